package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/failsoft/failsoft/benchmarks/degrade"
)

func main() {
	quick := flag.Bool("quick", false, "short cells (under a minute in all)")
	out := flag.String("out", "results", "directory for the .md and .svg files")
	modes := flag.String("modes", "", "comma-separated modes (default all: "+strings.Join(degrade.ModeNames(), ",")+")")
	readme := flag.String("readme", "", "also rewrite the results block of this README (between the degrade:begin/end markers)")
	peers := flag.String("peers", "", "comma-separated peers (default all: "+strings.Join(degrade.PeerNames(), ",")+")")
	flag.Parse()

	cfg := degrade.Full()
	name, command := "degrade", "go run ./cmd/degrade"
	if *quick {
		cfg = degrade.Quick()
		name, command = "degrade-quick", "go run ./cmd/degrade -quick"
	}
	if *modes != "" {
		cfg.Modes = strings.Split(*modes, ",")
		command += " -modes " + *modes
	}
	if *peers != "" {
		cfg.Peers = strings.Split(*peers, ",")
		command += " -peers " + *peers
	}
	cfg.Log = os.Stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rev := revision()
	res, err := degrade.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "degrade:", err)
		os.Exit(1)
	}
	res.Revision = rev
	if err := write(res, *out, name, command); err != nil {
		fmt.Fprintln(os.Stderr, "degrade:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "wrote %s/%s.md and %s.svg in %v\n", *out, name, name, res.Took.Round(1e9))
	if *readme != "" {
		if err := updateReadme(res, *readme, command); err != nil {
			fmt.Fprintln(os.Stderr, "degrade:", err)
			os.Exit(1)
		}
	}
	if bad := res.Check(); len(bad) > 0 {
		for _, b := range bad {
			fmt.Fprintln(os.Stderr, "degrade: check failed:", b)
		}
		os.Exit(2)
	}
}

func write(res *degrade.Results, dir, name, command string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	md, err := os.Create(filepath.Join(dir, name+".md"))
	if err != nil {
		return err
	}
	if err := res.WriteMarkdown(md, command); err != nil {
		md.Close()
		return err
	}
	if err := md.Close(); err != nil {
		return err
	}
	svg, err := os.Create(filepath.Join(dir, name+".svg"))
	if err != nil {
		return err
	}
	if err := res.WriteSVG(svg); err != nil {
		svg.Close()
		return err
	}
	return svg.Close()
}

func updateReadme(res *degrade.Results, path, command string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := res.UpdateReadme(string(doc), command)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(out), 0o644)
}

// revision is the git commit of the checkout the library is built from, marked when the
// tree has uncommitted changes to tracked files; "" when git cannot tell.
func revision() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	rev := "commit " + string(bytes.TrimSpace(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		rev += " with uncommitted changes"
	}
	return rev
}
