package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/config"
	"github.com/aiproxy-go/aiproxy/logquery"
	"github.com/aiproxy-go/aiproxy/pricing"
)

// reprice is the `aiproxy reprice` command: cost_usd of the response and error rows since a
// time, recomputed from their token counts at the current prices.
func reprice(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("aiproxy reprice", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rf := addRowFilterFlags(fs, 0)
	cfgFile := fs.String("config", "", "take the prices (and, without --db, the database) from this configuration file")
	pricesFile := fs.String("prices", "", "price file in the format of pricing/prices.yaml, laid over the built-in prices (and the configuration's)")
	dryRun := fs.Bool("dry-run", false, "count and total what would change, write nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("reprice: unexpected argument %q", fs.Arg(0))
	}
	if rf.since <= 0 {
		return errors.New("reprice: give --since, e.g. 30d, the age of the oldest rows to reprice")
	}
	dbGiven := false
	fs.Visit(func(f *flag.Flag) { dbGiven = dbGiven || f.Name == "db" })

	prices := pricing.Default()
	if *cfgFile != "" {
		cfg := config.Default()
		if err := config.Load(*cfgFile, cfg); err != nil {
			return fmt.Errorf("reprice: %w", err)
		}
		t, err := cfg.PriceTable()
		if err != nil {
			return fmt.Errorf("reprice: %w", err)
		}
		prices = t
		if !dbGiven && cfg.Database != "" {
			rf.db = cfg.Database
		}
	}
	if *pricesFile != "" {
		file, err := os.Open(*pricesFile)
		if err != nil {
			return fmt.Errorf("reprice: %w", err)
		}
		t, err := pricing.Load(file)
		file.Close()
		if err != nil {
			return fmt.Errorf("reprice: %s: %w", *pricesFile, err)
		}
		prices = prices.With(t)
	}

	store, db, dialect, err := openLog(rf.db)
	if err != nil {
		return err
	}
	defer store.Close()
	f := rf.filter(time.Now())
	res, err := logquery.Reprice(ctx, db, dialect, prices, f, *dryRun)
	if err != nil {
		return err
	}
	verb := "changed"
	if *dryRun {
		verb = "would change (dry run, nothing written)"
	}
	fmt.Fprintf(stdout, "%d response and error rows since %s: %d %s, %d without a price kept their cost\n",
		res.Rows, f.Since.UTC().Format(accesslog.TimeLayout[:19]), res.Changed, verb, res.Unpriced)
	fmt.Fprintf(stdout, "total cost of these rows: %.6f USD before, %.6f USD at the new prices\n", res.BeforeUSD, res.AfterUSD)
	return nil
}
