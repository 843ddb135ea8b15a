package degrade

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// Machine describes where the run happened.
func Machine() string {
	cpu := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	return fmt.Sprintf("%s/%s, %d cores (GOMAXPROCS %d), %s, %s", runtime.GOOS, runtime.GOARCH,
		runtime.NumCPU(), runtime.GOMAXPROCS(0), cpu, runtime.Version())
}

// loadAverage is the 1-minute load average, "?" where /proc/loadavg is missing.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}

func ms(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond))
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond))
}

// WriteMarkdown writes the summary matrix and one table per mode.
func (r *Results) WriteMarkdown(w io.Writer, command string) error {
	c := r.Config
	var b strings.Builder
	fmt.Fprintf(&b, "# Degradation run\n\n")
	fmt.Fprintf(&b, "- command: `%s` (in benchmarks/)\n", command)
	fmt.Fprintf(&b, "- date: %s, took %s\n", time.Now().UTC().Format(time.RFC3339), r.Took.Round(time.Second))
	fmt.Fprintf(&b, "- machine: %s; 1-minute load average %s at the start, %s at the end\n", Machine(), r.LoadStart, r.LoadEnd)
	if r.Revision != "" {
		fmt.Fprintf(&b, "- library: %s\n", r.Revision)
	}
	fmt.Fprintf(&b, "- workload: %d clients, each at most one request per %v, for %v per mode and peer, over %d keys (the first %d fetched once before the fault); request deadline %v\n",
		c.Workers, c.Interval, c.Cell, c.Keys, c.Warm, c.Deadline)
	fmt.Fprintf(&b, "- every peer: attempt timeout %v, %d retry (backoff %v..%v) where the peer retries, breaker opens at %d%% errors over >= %d requests and sleeps %v where the peer has one\n",
		c.Attempt, c.Retries, c.BackoffBase, c.BackoffMax, c.BreakerPercent, c.BreakerVolume, c.BreakerSleep)
	fmt.Fprintf(&b, "- upstream: `Cache-Control: max-age=%d, stale-if-error=%d` (in hang and slow: `max-age=0`, so every warmed entry is already past its freshness when the fault starts), data version changes every %v; latency %v; blackhole and hang: accepts, never answers; slow: answers after %v; errors %.0f%% 503; flapping %v up / %v down; slow body %d B every %v; truncated = half the declared Content-Length, then the connection drops\n\n",
		int(c.FreshFor.Seconds()), int(c.StaleIfError.Seconds()), c.VersionEvery, c.Latency, c.Slow, c.ErrorFraction*100, c.FlapPeriod, c.FlapPeriod, c.SlowChunk, c.SlowEvery)

	b.WriteString("## Usable answers (% of requests: 2xx with the right, complete body)\n\n")
	r.writeMatrix(&b)
	b.WriteString("\n## Warm-key p99 latency (ms: requests for the keys warmed before the fault)\n\n")
	r.writeWarmP99(&b)
	b.WriteString("\n## Per mode\n\nlatencies in ms; *warm p99* = p99 of the requests for warmed keys; *upstream* = requests that reached the upstream during the fault; *age* = age of the data in usable answers (since the upstream produced that version)\n")
	for _, m := range c.Modes {
		fmt.Fprintf(&b, "\n### %s\n\n", m)
		b.WriteString("| peer | requests | usable % | warm keys usable % | p50 | p99 | max | warm p99 | upstream | age p50 | age max |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, p := range c.Peers {
			cell, _ := r.Find(m, p)
			fmt.Fprintf(&b, "| %s | %d | %.1f | %.1f | %s | %s | %s | %s | %d | %s | %s |\n", p, cell.Requests,
				cell.UsablePct(), cell.WarmPct(), ms(cell.P50), ms(cell.P99), ms(cell.Max), ms(cell.WarmP99), cell.Upstream, ms(cell.AgeP50), ms(cell.AgeMax))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeMatrix writes the usable share per mode (rows) and peer (columns).
func (r *Results) writeMatrix(b *strings.Builder) {
	r.writeTable(b, func(c Cell) string { return fmt.Sprintf("%.1f", c.UsablePct()) })
}

// writeWarmP99 writes the warm-key p99 in ms per mode (rows) and peer (columns).
func (r *Results) writeWarmP99(b *strings.Builder) {
	r.writeTable(b, func(c Cell) string { return ms(c.WarmP99) })
}

// writeTable writes one value per mode (rows) and peer (columns).
func (r *Results) writeTable(b *strings.Builder, value func(Cell) string) {
	c := r.Config
	b.WriteString("| mode |")
	for _, p := range c.Peers {
		fmt.Fprintf(b, " %s |", p)
	}
	b.WriteString("\n|---|")
	for range c.Peers {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, m := range c.Modes {
		fmt.Fprintf(b, "| %s |", m)
		for _, p := range c.Peers {
			cell, _ := r.Find(m, p)
			fmt.Fprintf(b, " %s |", value(cell))
		}
		b.WriteString("\n")
	}
}

// Markers around the block that UpdateReadme replaces.
const (
	ReadmeBegin = "<!-- degrade:begin (written by go run ./cmd/degrade -readme README.md) -->"
	ReadmeEnd   = "<!-- degrade:end -->"
)

// UpdateReadme replaces the text between ReadmeBegin and ReadmeEnd in doc with the run's
// summary: the command, the machine, the usable-share matrix, the warm-key p99 matrix and,
// per mode and peer, p50, p99 and the upstream load.
func (r *Results) UpdateReadme(doc, command string) (string, error) {
	i := strings.Index(doc, ReadmeBegin)
	j := strings.Index(doc, ReadmeEnd)
	if i < 0 || j < i {
		return "", fmt.Errorf("degrade: the markers %q and %q are missing", ReadmeBegin, ReadmeEnd)
	}
	var b strings.Builder
	b.WriteString(ReadmeBegin + "\n\n")
	fmt.Fprintf(&b, "`%s`, %s, took %s, on %s; 1-minute load average %s at the start, %s at the end.",
		command, time.Now().UTC().Format("2006-01-02 15:04 UTC"), r.Took.Round(time.Second), Machine(), r.LoadStart, r.LoadEnd)
	if r.Revision != "" {
		fmt.Fprintf(&b, " Library: %s.", r.Revision)
	}
	b.WriteString("\n\n")
	b.WriteString("Usable answers, % of requests (2xx with the right, complete body):\n\n")
	r.writeMatrix(&b)
	b.WriteString("\nWarm-key p99 latency (ms; requests for the keys warmed before the fault, which a cache can answer):\n\n")
	r.writeWarmP99(&b)
	b.WriteString("\nLatency (ms) and requests that reached the upstream during the fault:\n\n| mode |")
	for _, p := range r.Config.Peers {
		fmt.Fprintf(&b, " %s p50 / p99 / upstream |", p)
	}
	b.WriteString("\n|---|")
	for range r.Config.Peers {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, m := range r.Config.Modes {
		fmt.Fprintf(&b, "| %s |", m)
		for _, p := range r.Config.Peers {
			c, _ := r.Find(m, p)
			fmt.Fprintf(&b, " %s / %s / %d |", ms(c.P50), ms(c.P99), c.Upstream)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	return doc[:i] + b.String() + doc[j:], nil
}

var palette = []string{"#9e9e9e", "#f4a261", "#2a9d8f", "#e76f51", "#8d6cab", "#457b9d", "#e9c46a", "#264653"}

// WriteSVG writes a grouped bar chart of the usable share per mode and peer.
func (r *Results) WriteSVG(w io.Writer) error {
	modes, ps := r.Config.Modes, r.Config.Peers
	const (
		left, top, plotH, barW, gap = 50, 40, 260, 11, 18
		bottom                      = 90
	)
	groupW := len(ps)*barW + gap
	width := left + len(modes)*groupW + 20
	height := top + plotH + bottom
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="14" font-weight="bold">Usable answers per fault mode (%% of requests: 2xx and the right body)</text>`+"\n", left)
	for pctTick := 0; pctTick <= 100; pctTick += 25 {
		y := top + plotH - pctTick*plotH/100
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#ddd"/>`+"\n", left, y, width-20, y)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%d%%</text>`+"\n", left-5, y+4, pctTick)
	}
	for mi, m := range modes {
		x0 := left + mi*groupW + gap/2
		for pi, p := range ps {
			cell, _ := r.Find(m, p)
			h := int(cell.UsablePct()*plotH/100 + 0.5)
			x := x0 + pi*barW
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"><title>%s, %s: %.1f%%</title></rect>`+"\n",
				x, top+plotH-h, barW-1, h, palette[pi%len(palette)], html.EscapeString(m), html.EscapeString(p), cell.UsablePct())
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", x0+len(ps)*barW/2, top+plotH+15, html.EscapeString(m))
	}
	for pi, p := range ps {
		x := left + (pi%3)*170
		y := top + plotH + 40 + (pi/3)*18
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			x, y, palette[pi%len(palette)], x+17, y+10, html.EscapeString(p))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555">Cold keys (not fetched before the fault) cannot be answered from a cache: %d of %d keys were warmed.</text>`+"\n",
		left, top+plotH+82, r.Config.Warm, r.Config.Keys)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
