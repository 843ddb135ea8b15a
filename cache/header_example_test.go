package cache_test

import (
	"fmt"
	"net/http"

	"github.com/failsoft/failsoft/cache"
)

func ExampleMakeHeader() {
	h := cache.MakeHeader(http.Header{
		"Content-Type": {"application/json"},
		"Link":         {"</a>; rel=a", "</b>; rel=b"},
	})
	fmt.Println(h.Len(), h.Get("content-type"), h.Values("Link"), h.Has("Etag"))

	// A hit writes it onto the ResponseWriter's header: see Entry.CopyHeader.
	e := &cache.Entry{Status: http.StatusOK, Header: h}
	dst := http.Header{}
	e.CopyHeader(dst, 0)
	fmt.Println(dst["Link"][1])
	// Output:
	// 2 application/json [</a>; rel=a </b>; rel=b] false
	// </b>; rel=b
}
