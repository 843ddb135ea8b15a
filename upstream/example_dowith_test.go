package upstream_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/failsoft/failsoft/upstream"
)

// DoWith runs the client's attempts as another command, here one a caller shares between
// several ways of reaching the same route: its breaker sees them all.
func ExampleClient_DoWith() {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	}))
	defer up.Close()
	route, err := upstream.NewRunner(upstream.Settings{Name: "example-dowith/orders"})
	if err != nil {
		panic(err)
	}
	defer route.Close()
	client, err := upstream.NewClient(upstream.ClientConfig{Common: upstream.Common{Command: upstream.Settings{Name: "example-dowith/client"}}})
	if err != nil {
		panic(err)
	}
	defer client.Close()

	req, _ := http.NewRequest(http.MethodGet, up.URL+"/orders/1", nil)
	resp, err := client.DoWith(route, req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(b), route.State())
	// Output:
	// 200 ok closed
}
