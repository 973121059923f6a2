package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"

	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/scrub"
)

// Exit codes, documented in the README; only this package decides them.
const (
	exitOK      = 0  // nothing to do, or everything done
	exitFailure = 1  // a runtime failure: the API, the network, a change that failed
	exitChanges = 2  // plan --detailed-exitcode: changes are pending
	exitInvalid = 3  // invalid config or source; no API call was made
	exitBlocked = 4  // a safety check blocked the run
	exitLocked  = 5  // another apply holds the lock on this host
	exitUsage   = 64 // no command, or an unknown one (sysexits' EX_USAGE)
)

type command struct {
	name, summary, usage string
	run                  func(ctx context.Context, io cmdIO, args []string) int
}

type cmdIO struct{ stdout, stderr io.Writer }

func commands() []command {
	return []command{
		validateCommand(),
		planCommand(),
		applyCommand(),
		emulatorCommand(),
		authCommand(),
		exportCommand(),
		serveCommand(),
		versionCommand(),
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	out := cmdIO{stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "syncer: no command given")
		fmt.Fprintln(stderr)
		usage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "--help", "-help":
		if len(args) > 1 && !slices.Contains([]string{"help", "-h", "--help", "-help"}, args[1]) {
			for _, c := range commands() {
				if c.name == args[1] {
					fmt.Fprintln(stdout, c.usage)
					return exitOK
				}
			}
			fmt.Fprintf(stderr, "syncer: unknown command %q\n\n", args[1])
			usage(stderr)
			return exitUsage
		}
		usage(stdout)
		return exitOK
	case "--version", "-version":
		name = "version"
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, out, args[1:])
		}
	}
	fmt.Fprintf(stderr, "syncer: unknown command %q\n\n", name)
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "syncer keeps Google Chat space memberships equal to a desired state in YAML or CSV.")
	fmt.Fprintln(w, "\nUsage: syncer <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "  help      show help for a command: syncer help plan")
	fmt.Fprintln(w, "\nExit codes: 0 done or nothing to do, 1 runtime failure, 2 changes pending (plan --detailed-exitcode),")
	fmt.Fprintln(w, "3 invalid config, source or flag (no API call made), 4 blocked by a safety check, 5 another apply holds the lock,")
	fmt.Fprintln(w, "64 no command or an unknown one.")
}

// newFlags returns a flag set whose -h prints the command's usage and flags.
func newFlags(c command, out cmdIO) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(out.stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), c.usage)
		fmt.Fprintln(fs.Output(), "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

func exitCodeForFlagError(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitInvalid
}

// parseFlags parses args, flags anywhere among them; it returns an exit
// code when the command should stop. Commands that take no positional
// argument refuse any.
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return exitCodeForFlagError(err), false
	}
	if len(rest) > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected arguments: %s\n", fs.Name(), strings.Join(rest, " "))
		return exitInvalid, false
	}
	return 0, true
}

// parseInterspersed parses flags wherever they are among args (the flag
// package stops at the first positional argument) and returns the
// positional ones in order; after "--" everything is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	if err := flagAsValue(fs, args); err != nil {
		fmt.Fprintln(fs.Output(), err)
		return nil, err
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// flagAsValue finds a flag written where another flag's value belongs: the
// flag package takes "--report-file --dry-run" as a report file named
// --dry-run, and the apply it was meant to stop runs for real. A value
// that is one of the command's own flags (or -h) is refused; one meant as
// such is glued on: --report-file=--dry-run.
func flagAsValue(fs *flag.FlagSet, args []string) error {
	for i := 0; i+1 < len(args); i++ {
		name, ok := flagName(args[i])
		if !ok {
			if args[i] == "--" {
				return nil
			}
			continue
		}
		f := fs.Lookup(name)
		if f == nil || strings.Contains(args[i], "=") {
			continue
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		next, _, _ := strings.Cut(args[i+1], "=")
		if n, ok := flagName(next); ok && (fs.Lookup(n) != nil || n == "h" || n == "help") {
			return fmt.Errorf("%s: %s is a flag, not the value of %s; give %s its value (or write %s=%s if that is the value); nothing was read or sent", fs.Name(), args[i+1], args[i], args[i], args[i], args[i+1])
		}
		i++ // its value
	}
	return nil
}

// flagName is the name of a flag argument (-x, --x, --x=v), or false.
func flagName(arg string) (string, bool) {
	if len(arg) < 2 || arg[0] != '-' {
		return "", false
	}
	name := strings.TrimPrefix(arg[1:], "-")
	name, _, _ = strings.Cut(name, "=")
	if name == "" || name[0] == '-' {
		return "", false
	}
	return name, true
}

// setEndpoint applies --endpoint, checked as the config's api.endpoint is:
// an http(s) URL with a host. "" keeps the config's.
func setEndpoint(cfg *config.Config, endpoint string) error {
	if endpoint == "" {
		return nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--endpoint %q is not an http(s) URL with a host (e.g. http://127.0.0.1:8085/); nothing was sent", scrub.URL(endpoint))
	}
	if config.CleartextGoogle(u) {
		return fmt.Errorf("--endpoint %q: Google's APIs are called over https (over http the run's access token would cross the network in clear); nothing was sent", scrub.URL(endpoint))
	}
	cfg.API.Endpoint = strings.TrimSuffix(endpoint, "/") + "/"
	return nil
}
