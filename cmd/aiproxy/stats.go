package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aiproxy-go/aiproxy/logquery"
)

// stats is the `aiproxy stats` command: requests, errors, tokens, cost and latency of each
// model, provider, user or client key.
func stats(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("aiproxy stats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rf := addRowFilterFlags(fs, 24*time.Hour)
	by := fs.String("by", "model", "group by "+strings.Join(logquery.GroupBy, ", "))
	asJSON := fs.Bool("json", false, "print a JSON array instead of a table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("stats: unexpected argument %q", fs.Arg(0))
	}
	store, db, dialect, err := openLog(rf.db)
	if err != nil {
		return err
	}
	defer store.Close()
	groups, err := logquery.Stats(ctx, db, dialect, strings.ReplaceAll(*by, "-", "_"), rf.filter(time.Now()))
	if err != nil {
		return err
	}
	if *asJSON {
		if groups == nil {
			groups = []logquery.Group{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(groups)
	}

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tREQUESTS\tERRORS\tINPUT TOKENS\tOUTPUT TOKENS\tCACHED TOKENS\tCOST USD\tP50 S\tP95 S\tTTFT P50 S\tTTFT P95 S\t\n",
		strings.ToUpper(strings.ReplaceAll(*by, "-", "_")))
	var total logquery.Group
	for _, g := range groups {
		key := g.Key
		if key == "" {
			key = "(none)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%.6f\t%.3f\t%.3f\t%s\t%s\t\n", clip(key, 48), g.Requests, g.Errors,
			g.InputTokens, g.OutputTokens, g.CachedTokens, g.CostUSD, g.LatencyP50, g.LatencyP95,
			optionalSeconds(g.TTFTP50), optionalSeconds(g.TTFTP95))
		total.Requests += g.Requests
		total.Errors += g.Errors
		total.InputTokens += g.InputTokens
		total.OutputTokens += g.OutputTokens
		total.CachedTokens += g.CachedTokens
		total.CostUSD += g.CostUSD
	}
	fmt.Fprintf(tw, "TOTAL\t%d\t%d\t%d\t%d\t%d\t%.6f\t\t\t\t\t\n", total.Requests, total.Errors,
		total.InputTokens, total.OutputTokens, total.CachedTokens, total.CostUSD)
	return tw.Flush()
}

// optionalSeconds shows a time that only streams have, "-" for none.
func optionalSeconds(s float64) string {
	if s == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", s)
}
