package faultupstream_test

import (
	"fmt"
	"io"
	"net/http"

	"github.com/failsoft/failsoft/internal/faultupstream"
)

func Example() {
	up, err := faultupstream.New(faultupstream.Config{})
	if err != nil {
		panic(err)
	}
	defer up.Close()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()

	_ = up.Set(faultupstream.Errors(0.5, http.StatusServiceUnavailable)) // every 2nd request fails
	for range 2 {
		resp, err := client.Get(up.URL() + "/users/1")
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		_, verr := faultupstream.Verify("/users/1", body)
		fmt.Println(resp.StatusCode, "usable:", verr == nil)
	}
	fmt.Println("requests:", up.Requests())
	// Output:
	// 200 usable: true
	// 503 usable: false
	// requests: 2
}
