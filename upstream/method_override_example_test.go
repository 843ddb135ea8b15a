package upstream_test

import (
	"fmt"
	"net/http"

	"github.com/failsoft/failsoft/upstream"
)

func ExampleMethodOverride() {
	h := http.Header{}
	h.Set("X-HTTP-Method-Override", "patch")
	m, ok := upstream.MethodOverride(h)
	fmt.Println(m, ok)
	// Output: PATCH true
}
