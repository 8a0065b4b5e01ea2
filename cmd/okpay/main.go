// Command okpay is the one OKPay binary: serve, migrate, version, and the operator commands
// (reconcile, bench, admin, audit) that register themselves from their own files.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Command is one subcommand. Run receives the arguments after the command name and a
// context cancelled on SIGINT/SIGTERM.
type Command struct {
	Name    string
	Summary string
	Run     func(ctx context.Context, args []string) error
}

var commands = map[string]Command{}

// register adds a subcommand; each lives in its own file and calls this from init.
func register(c Command) {
	if _, dup := commands[c.Name]; dup {
		panic("okpay: command registered twice: " + c.Name)
	}
	commands[c.Name] = c
}

// benches are the `okpay bench NAME` targets, registered like commands.
var benches = map[string]Command{}

func registerBench(c Command) {
	if _, dup := benches[c.Name]; dup {
		panic("okpay: bench registered twice: " + c.Name)
	}
	benches[c.Name] = c
}

// errUsage marks errors already explained by printed usage; exit code 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

func run(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "okpay: unknown command %q\n\n", args[0])
		usage()
		return 2
	}
	if err := c.Run(ctx, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if errors.Is(err, errUsage) {
			return 2
		}
		fmt.Fprintf(os.Stderr, "okpay %s: %v\n", c.Name, err)
		return 1
	}
	return 0
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: okpay <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, commands[n].Summary)
	}
	fmt.Fprintln(os.Stderr, "\nRun 'okpay <command> --help' for a command's flags.")
}

func init() {
	register(Command{Name: "bench", Summary: "run a whole-system benchmark: okpay bench <" + "name> (see okpay bench --help)", Run: runBench})
}

func runBench(ctx context.Context, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(os.Stderr, "usage: okpay bench <name> [flags]\n\nbenchmarks:")
		names := make([]string, 0, len(benches))
		for n := range benches {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, benches[n].Summary)
		}
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return flag.ErrHelp
		}
		return errUsage
	}
	b, ok := benches[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "okpay bench: unknown benchmark %q\n", args[0])
		return errUsage
	}
	return b.Run(ctx, args[1:])
}
