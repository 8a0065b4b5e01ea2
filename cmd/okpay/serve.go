package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"

	"okpay/internal/server"
)

func init() {
	register(Command{Name: "serve", Summary: "run the OKPay server (SQLite by default, PostgreSQL with --database)", Run: runServe})
	register(Command{Name: "migrate", Summary: "apply database migrations and exit", Run: runMigrate})
	register(Command{Name: "version", Summary: "print the version", Run: func(context.Context, []string) error {
		fmt.Printf("okpay %s (%s, %s/%s)\n", server.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	}})
}

// parseConfig binds defaults, environment and flags in that order of increasing precedence.
func parseConfig(name string, args []string) (server.Config, error) {
	cfg := server.Defaults()
	fs := flag.NewFlagSet("okpay "+name, flag.ContinueOnError)
	if err := cfg.Bind(fs, os.Getenv); err != nil {
		return cfg, err
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return cfg, cfg.Validate()
}

func runServe(ctx context.Context, args []string) error {
	cfg, err := parseConfig("serve", args)
	if err != nil {
		return err
	}
	log := server.NewLogger(cfg, os.Stderr)
	slog.SetDefault(log)
	app, err := server.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	if err := app.Listen(); err != nil {
		app.Close()
		return err
	}
	fmt.Fprintf(os.Stderr, "OKPay is running at %s  (Ctrl-C to stop)\n", app.URL())
	return app.Serve(ctx)
}

func runMigrate(ctx context.Context, args []string) error {
	cfg, err := parseConfig("migrate", args)
	if err != nil {
		return err
	}
	d, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	n, err := d.Migrate(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("applied %d migrations (%s)\n", n, d.Engine)
	return nil
}
