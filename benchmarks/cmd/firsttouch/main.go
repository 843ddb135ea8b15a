//go:build unix

// Command firsttouch measures what the first write to a page of fresh memory costs on this
// machine: it maps anonymous memory (64 MiB unless -mib says otherwise), writes one byte
// per 4 KiB page, then does it again. The first pass takes a page fault per page (the
// kernel finds and zeroes a page; on a virtual machine the host may have to back it too);
// the second takes none. A benchmark whose loop keeps what it makes (a cache filling up)
// grows the heap into fresh pages and pays the first figure for each (faults/op in the
// micro benchmarks); see benchmarks/README.md.
//
//	go run ./cmd/firsttouch
package main

import (
	"flag"
	"fmt"
	"os"
	"syscall"
	"time"
)

func main() {
	mib := flag.Int("mib", 64, "MiB of memory to touch")
	flag.Parse()
	if *mib <= 0 {
		fmt.Fprintln(os.Stderr, "firsttouch: -mib must be positive")
		os.Exit(2)
	}
	const page = 4096
	n := *mib << 20
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		fmt.Fprintln(os.Stderr, "firsttouch:", err)
		os.Exit(1)
	}
	defer func() { _ = syscall.Munmap(b) }()
	pages := n / page
	touch := func(v byte) time.Duration {
		start := time.Now()
		for i := 0; i < n; i += page {
			b[i] = v
		}
		return time.Since(start)
	}
	first, second := touch(1), touch(2)
	fmt.Printf("%d pages: first touch %v (%v a page), second %v (%v a page)\n",
		pages, first.Round(time.Microsecond), first/time.Duration(pages),
		second.Round(time.Microsecond), second/time.Duration(pages))
}
