package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/syncer-dev/syncer/internal/auth"
	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/report"
	"github.com/syncer-dev/syncer/internal/scrub"
	"github.com/syncer-dev/syncer/internal/source"
)

func authCommand() command {
	return command{
		name:    "auth",
		summary: "log in (oauth-user) or check who the syncer acts as",
		usage: `Usage: syncer auth login --config FILE
       syncer auth check --config FILE

login runs Google's installed-app flow for auth.mode oauth-user: it prints a
URL to open in a browser on this machine, waits for the consent, and stores
the refresh token in auth.token_file with mode 0600.

check prints the auth mode, who the syncer acts as and the scopes plan and
apply would request, then tries one harmless read (spaces.get of the first
managed space). Exit 0 when the read works, 1 when it doesn't.

Examples:
  syncer auth login --config config.yaml
  syncer auth check --config config.yaml`,
		run: runAuth,
	}
}

func runAuth(ctx context.Context, out cmdIO, args []string) int {
	if len(args) == 0 || (args[0] != "login" && args[0] != "check") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fmt.Fprintln(out.stderr, authCommand().usage)
			return exitOK
		}
		if len(args) == 0 {
			fmt.Fprintln(out.stderr, "syncer auth: no subcommand given (login or check)")
		} else {
			fmt.Fprintf(out.stderr, "syncer auth: unknown subcommand %q (login or check)\n", args[0])
		}
		fmt.Fprintln(out.stderr, authCommand().usage)
		return exitUsage
	}
	sub := args[0]
	fs := newFlags(authCommand(), out)
	configPath := fs.String("config", "config.yaml", "config file")
	endpoint := fs.String("endpoint", "", "base URL of the APIs (default: the config's api.endpoint)")
	if code, ok := parseFlags(fs, args[1:]); !ok {
		return code
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		return printInputErrors(out.stderr, err)
	}
	if err := setEndpoint(cfg, *endpoint); err != nil {
		fmt.Fprintln(out.stderr, err)
		return exitInvalid
	}
	if sub == "login" {
		if cfg.Auth.Mode != "oauth-user" {
			fmt.Fprintf(out.stderr, "auth login is for auth.mode oauth-user; %s uses %s\n", cfg.Path, cfg.Auth.Mode)
			return exitInvalid
		}
		clientOnly := cfg.Auth
		clientOnly.TokenFile = "" // login is what writes it
		if err := auth.CheckFiles(clientOnly); err != nil {
			fmt.Fprintf(out.stderr, "%s: %v\n", cfg.Path, err)
			return exitInvalid
		}
		desired, err := source.Load(cfg.Sources)
		if err != nil {
			fmt.Fprintf(out.stderr, "warning: the sources did not load (%v); asking for no Directory group scope and not the app's: rerun auth login once they do if they use group rules or name the app\n", firstLine(err))
		}
		if err := auth.Login(ctx, cfg.Auth, loginScopes(cfg, desired), out.stderr); err != nil {
			fmt.Fprintf(out.stderr, "auth login: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	return authCheck(ctx, out, cfg)
}

// loginScopes is what auth login asks consent for. One consent covers
// every token a run mints from it (a refresh adds no scope), so it asks
// for what any run of this config asks: apply's Chat scopes (the app's
// too when a source names it), the Directory's, group scopes included
// when the sources need them, and the state bucket's.
func loginScopes(cfg *config.Config, desired membership.Desired) []string {
	write := need(cfg, true)
	write.App = namesApp(desired)
	scopes := auth.Scopes(cfg.Auth, write)
	extra := directoryScopes(cfg, desired)
	if cfg.State.InCloudStorage() {
		extra = append(extra, auth.ScopeStorage) // the user's own access to the state bucket
	}
	for _, sc := range extra {
		if !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	return scopes
}

func authCheck(ctx context.Context, out cmdIO, cfg *config.Config) int {
	desired, err := source.Load(cfg.Sources)
	if err != nil {
		return printInputErrors(out.stderr, err)
	}
	// Chat's token as a run asks for it: the Directory has its own
	// (below), and apply adds the app's scope when a source names it.
	read, write := need(cfg, false), need(cfg, true)
	read.Directory, write.Directory = false, false
	read.App, write.App = namesApp(desired), namesApp(desired)
	creds, err := credentials(ctx, cfg, read, authOptions(cfg, nil))
	if err != nil {
		fmt.Fprintln(out.stderr, err)
		return exitInvalid
	}
	fmt.Fprintf(out.stdout, "Mode:       %s\n", creds.Mode)
	fmt.Fprintf(out.stdout, "Acting as:  %s\n", creds.ActingAs)
	fmt.Fprintf(out.stdout, "Endpoint:   %s\n", scrub.URL(cfg.API.Endpoint))
	fmt.Fprintf(out.stdout, "Scopes for plan:  %s\n", orNone(auth.Scopes(cfg.Auth, read)))
	fmt.Fprintf(out.stdout, "Scopes for apply: %s\n", orNone(auth.Scopes(cfg.Auth, write)))
	if directoryEnabled(cfg) {
		fmt.Fprintf(out.stdout, "Scopes for the Directory: %s\n", orNone(directoryScopes(cfg, desired)))
	}
	if cfg.State.InCloudStorage() {
		fmt.Fprintf(out.stdout, "Scopes for state:  %s (on %s, as the service account itself, not the subject)\n", auth.ScopeStorage, cfg.State.Location)
	}
	msg, err := tryRead(ctx, cfg, creds, desired)
	fmt.Fprintf(out.stdout, "Read check: %s\n", report.Printable(msg))
	if err != nil {
		return exitFailure
	}
	return exitOK
}

// tryRead makes one harmless call, spaces.get of the first managed space,
// to prove the credentials work.
func tryRead(ctx context.Context, cfg *config.Config, creds *auth.Credentials, desired membership.Desired) (string, error) {
	if len(desired.Spaces) == 0 {
		return "no managed space to try a read on", nil
	}
	api, err := newChatClient(ctx, cfg, creds)
	if err != nil {
		return err.Error(), err
	}
	space := desired.Spaces[0].Name
	ctx, cancel := context.WithTimeout(ctx, cfg.Limits.CallTimeout)
	defer cancel()
	st, err := api.Space(ctx, space)
	if err != nil {
		return fmt.Sprintf("spaces.get %s failed: %v", space, err), err
	}
	return fmt.Sprintf("spaces.get %s ok (%s %q)", space, st.Type, st.DisplayName), nil
}

func orNone(scopes []string) string {
	if len(scopes) == 0 {
		return "(none)"
	}
	return strings.Join(scopes, " ")
}

// firstLine is an error's first line, for a one-line warning.
func firstLine(err error) string {
	line, _, _ := strings.Cut(err.Error(), "\n")
	return line
}
