// Command bgpsentry detects BGP prefix hijacks and route leaks in live BGP
// sessions and in RIS/RouteViews MRT archives.

// Plain TCP listeners: Linux refuses TCP-MD5 (BGP session passwords) on
// the Multipath TCP sockets Go uses by default since 1.24.
//
//go:debug multipathtcp=0
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

var version = "dev" // set with -ldflags "-X main.version=..."

type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"dump":      {"print MRT elements in bgpdump -m format, or a summary (--stats)", runDump},
	"serve":     {"run the service: BGP speaker, replay, classifier, alerts on stdout and gRPC", runServe},
	"score":     {"batch-score MRT archives: hijack and route-leak alert events as JSON Lines", runScore},
	"featurize": {"write training rows: the feature vector of every scored announcement, with labels", runFeaturize},
	"inject":    {"inject synthetic hijacks, leaks and benign look-alikes into real MRT updates, with labels", runInject},
	"replay":    {"publish the updates of MRT archives to Kafka, as fast as possible or paced by their timestamps (--speed)", runReplay},
	"alerts":    {"print the alert events of a bgpsentry server as they arrive (gRPC), or the recent ones (--once)", runAlerts},
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `bgpsentry %s: BGP hijack and route-leak detection

Usage: bgpsentry COMMAND [flags] [args]

Commands:
`, version)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nRun 'bgpsentry COMMAND --help' for the flags of a command.\n")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(stdout)
		return 0
	case "-version", "--version", "version":
		fmt.Fprintln(stdout, "bgpsentry", version)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "bgpsentry: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cmd.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "bgpsentry %s: %v\n", args[0], err)
		return 1
	}
}

// errUsage marks an error already reported with the command's usage.
var errUsage = errors.New("usage")

// newFlagSet makes a command's flag set whose --help prints the synopsis,
// the description and every flag.
func newFlagSet(name, synopsis, description string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: bgpsentry %s %s\n\n%s\n\nFlags:\n", name, synopsis, description)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, turning a flag error into errUsage (already printed).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}
