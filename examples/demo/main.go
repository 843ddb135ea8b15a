package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
)

func main() {
	cfg := defaultConfig()
	flag.DurationVar(&cfg.Phase, "phase", cfg.Phase, "length of each phase")
	flag.StringVar(&cfg.Phases, "phases", cfg.Phases, "comma-separated phases: "+strings.Join(phaseNames(), ", "))
	flag.IntVar(&cfg.Keys, "keys", cfg.Keys, "keys warmed while healthy (later phases also ask for as many never-seen keys)")
	flag.IntVar(&cfg.Clients, "clients", cfg.Clients, "concurrent clients")
	flag.DurationVar(&cfg.Pace, "pace", cfg.Pace, "pause between one client's requests")
	flag.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "the command's timeout (per call to the handler)")
	flag.DurationVar(&cfg.Fresh, "fresh", cfg.Fresh, "how long an answer stays fresh")
	jsonOut := flag.Bool("json", false, "print the summary as JSON on stdout (the timeline goes to stderr)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	var timeline io.Writer = os.Stdout
	if *jsonOut {
		timeline = os.Stderr
	}
	sum, err := run(ctx, cfg, timeline)
	if err != nil {
		log.Fatal(err)
	}
	if *jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			log.Fatal(err)
		}
		return
	}
	printSummary(os.Stdout, sum)
}

func printSummary(w io.Writer, s Summary) {
	fmt.Fprintf(w, "\n%-10s %7s %7s %7s %7s %7s %7s %7s %8s %8s %9s  %s\n",
		"phase", "answers", "fresh", "fetched", "stale", "(soft)", "default", "error", "p50", "p99", "upstream", "breaker")
	for _, p := range s.Phases {
		fmt.Fprintf(w, "%-10s %7d %7d %7d %7d %7d %7d %7d %8s %8s %9d  %s\n",
			p.Name, p.Requests, p.Fresh, p.Fetched, p.Stale, p.SoftTimeout, p.Default, p.Errors,
			ms(p.P50Millis), ms(p.P99Millis), p.UpstreamCalls, strings.Join(p.Breaker, "→"))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "While the upstream was down or hanging, %d of %d requests for keys answered before the outage got their last good data (200, stale; (soft): answered at the soft timeout while the upstream was slow).\n",
		s.WarmServedDuringOutage, s.WarmRequestsDuringOutage)
	fmt.Fprintf(w, "Never-seen keys got the default payload or an error: nothing the upstream did not send was made up.\n")
}

func ms(v float64) string { return fmt.Sprintf("%.1fms", v) }
