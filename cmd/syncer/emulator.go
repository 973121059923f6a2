package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/source"
)

func emulatorCommand() command {
	return command{
		name:    "emulator",
		summary: "serve a local emulator of the Chat membership and Directory APIs",
		usage: `Usage: syncer emulator [--seed FILE.yaml] [--seed-converged SOURCE ...] [--listen ADDR] [--quota-scale N]
                       [--quota-bucket [--quota-burst N]] [--other-app SHARE]
                       [--latency MIN..MAX] [--fault-rate P] [--hide-emails] [--caller EMAIL|app]
                       [--name-members-by-address] [--misbehave METHOD=WHAT ...]

Serves the Chat membership API (spaces.get, members list/get/create/patch/
delete) and the Directory (users.get/list with the query forms the README
lists, groups.get, members.list) from the seed's users, groups and spaces, enforcing Google's quotas (scaled by --quota-scale) and injecting
faults (500, 503, 429, connection reset, applied-then-500) at --fault-rate.
Quotas are counted per minute, as Google does; --quota-bucket counts them as
token buckets holding --quota-burst calls instead (stricter: only a smooth
client passes), and --other-app 0.3 has another app use 30% of each project
quota, so the syncer gets the rest.
Point a config's api.endpoint (or --endpoint) at the printed URL.
GET /emulator/stats counts requests; GET /emulator/state shows memberships.

Examples:
  syncer emulator --seed testdata/seed.yaml --listen 127.0.0.1:8085
  syncer emulator --seed testdata/seed.yaml --quota-scale 100 --latency 20ms..40ms --fault-rate 0.1
  syncer emulator --seed testdata/seed.yaml --misbehave members.list=loop-pages --misbehave 'members.create=429,retry-after:3600'`,
		run: runEmulator,
	}
}

func runEmulator(ctx context.Context, out cmdIO, args []string) int {
	fs := newFlags(emulatorCommand(), out)
	listen := fs.String("listen", "127.0.0.1:8085", "address to listen on (port 0 picks a free one)")
	seedPath := fs.String("seed", "", "seed YAML: users, groups and spaces")
	var converged stringList
	fs.Var(&converged, "seed-converged", "a desired-state source (YAML or CSV, repeatable): start with its spaces holding exactly its members,\nevery address a Directory user (combine with --seed for more)")
	scale := fs.Float64("quota-scale", 1, "multiply Google's quota rates by N; 0 turns quotas off")
	bucket := fs.Bool("quota-bucket", false, "count each quota as a token bucket (refilled at the quota's rate) instead of per minute")
	burst := fs.Int("quota-burst", emulator.DefaultQuotaBurst, "calls a token-bucket quota holds (with --quota-bucket)")
	otherApp := fs.Float64("other-app", 0, "share of each project quota another app uses, 0..1")
	latency := fs.String("latency", "", "delay per call, MIN..MAX (e.g. 20ms..40ms)")
	faultRate := fs.Float64("fault-rate", 0, "chance of an injected fault per call, 0..1")
	faultSeed := fs.Uint64("fault-seed", 0, "seed for fault and latency draws (0: random)")
	hideEmails := fs.Bool("hide-emails", false, "leave member emails out of list and get answers")
	caller := fs.String("caller", "", "judge writes by this caller's role in each space, as Google does: a seed user's email or ID\n(user authentication: reads only the spaces they are in; useAdminAccess lifts the checks), or app (app authentication); unset, any call goes")
	appID := fs.String("app-id", "", "answer the app's membership by this numeric user ID (requests may still say app), not as users/app")
	requireToken := fs.String("require-token", "", "answer 401 unless calls carry this bearer token")
	refuseInvited := fs.Bool("refuse-invited-role-changes", false, "refuse role changes on pending invitations")
	hideInvited := fs.Bool("hide-invited-from-gets", false, "answer members.get with 404 for a pending invitation (as app authentication may)")
	byAddress := fs.Bool("name-members-by-address", false, "answer people as users/{email}, not users/{id} (Google documents IDs; a server may answer with the alias)")
	var misbehave stringList
	fs.Var(&misbehave, "misbehave", "make a method misbehave (repeatable): METHOD=WHAT[,WHAT], WHAT one of hang, hang-first:N, loop-pages,\nan HTTP error code (500, 403:quotaExceeded, 429), retry-after:SECONDS, at-call:N (the Nth call only), no-chat-app (404 \"Google Chat app not found\"),\nservice-disabled (403 SERVICE_DISABLED: the method's API, Chat or the Admin SDK, not enabled in the project); METHOD may be *")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	opts := emulator.Options{QuotaScale: *scale, FaultRate: *faultRate, Seed: *faultSeed, HideEmails: *hideEmails, AppID: *appID, Caller: *caller,
		RequireToken: *requireToken, RefuseInvitedRoleChanges: *refuseInvited,
		HideInvitedFromGets: *hideInvited, NameMembersByAddress: *byAddress, QuotaBucket: *bucket, QuotaBurst: *burst, OtherAppShare: *otherApp}
	if *latency != "" {
		lo, hi, ok := strings.Cut(*latency, "..")
		min, err1 := time.ParseDuration(lo)
		max, err2 := time.ParseDuration(hi)
		if !ok || err1 != nil || err2 != nil || max < min {
			fmt.Fprintf(out.stderr, "emulator: --latency %q is not MIN..MAX, e.g. 20ms..40ms\n", *latency)
			return exitInvalid
		}
		opts.LatencyMin, opts.LatencyMax = min, max
	}
	if *faultRate < 0 || *faultRate > 1 {
		fmt.Fprintln(out.stderr, "emulator: --fault-rate must be between 0 and 1")
		return exitInvalid
	}
	if *otherApp < 0 || *otherApp >= 1 {
		fmt.Fprintln(out.stderr, "emulator: --other-app must be at least 0 and below 1")
		return exitInvalid
	}
	if *burst < 1 {
		fmt.Fprintln(out.stderr, "emulator: --quota-burst must be at least 1")
		return exitInvalid
	}
	var seed *emulator.Seed
	if *seedPath != "" {
		s, err := emulator.LoadSeed(*seedPath)
		if err != nil {
			fmt.Fprintf(out.stderr, "emulator: %v\n", err)
			return exitInvalid
		}
		seed = s
	}
	if len(converged) > 0 {
		var specs []source.Spec
		for _, p := range converged {
			specs = append(specs, source.Spec{Path: p})
		}
		desired, err := source.Load(specs)
		if err != nil {
			return printInputErrors(out.stderr, err)
		}
		if seed, err = convergedSeed(seed, desired); err != nil {
			fmt.Fprintf(out.stderr, "emulator: --seed-converged: %v\n", err)
			return exitInvalid
		}
	}
	em, err := emulator.New(seed, opts)
	if err != nil {
		fmt.Fprintf(out.stderr, "emulator: %v\n", err)
		return exitInvalid
	}
	for _, flag := range misbehave {
		method, m, err := emulator.ParseMisbehaviour(flag)
		if err != nil {
			fmt.Fprintf(out.stderr, "emulator: %v\n", err)
			return exitInvalid
		}
		em.SetMisbehaviour(method, m)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(out.stderr, "emulator: %v\n", err)
		return exitFailure
	}
	srv := &http.Server{Handler: em.Handler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out.stdout, "emulator listening on http://%s/\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
		return exitOK
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return exitOK
		}
		fmt.Fprintf(out.stderr, "emulator: %v\n", err)
		return exitFailure
	}
}

// convergedSeed adds to seed (nil for none) the spaces of a desired state
// holding exactly its members: people as Directory users (new ones get
// numeric IDs), groups, the app; unmanaged roles as members. A person at
// an address the seed gives a group is refused: no user can have it.
func convergedSeed(seed *emulator.Seed, d membership.Desired) (*emulator.Seed, error) {
	if seed == nil {
		seed = &emulator.Seed{}
	}
	known := map[string]bool{}
	for _, u := range seed.Users {
		known[strings.ToLower(u.Email)], known[u.ID] = true, true
		for _, a := range append(slices.Clone(u.Aliases), u.NonEditableAliases...) {
			known[strings.ToLower(a)] = true
		}
	}
	groups := map[string]bool{}
	groupAt := map[string]string{} // a seed group's addresses: its ID
	for _, g := range seed.Groups {
		// The seed's own group (its email, its members) stays: added again
		// empty, the empty one would answer by its ID.
		groups[strings.TrimPrefix(g.ID, "groups/")] = true
		for _, a := range append([]string{g.Email}, g.Aliases...) {
			groupAt[strings.ToLower(a)] = strings.TrimPrefix(g.ID, "groups/")
		}
	}
	next := 900000000000
	for _, ds := range d.Spaces {
		sp := emulator.SeedSpace{Name: ds.Name, DisplayName: ds.Label}
		for _, m := range ds.Members {
			sm := emulator.SeedMember{Role: string(m.Role)}
			switch {
			case m.Principal == membership.App:
				sm = emulator.SeedMember{App: true}
			case m.Principal.IsGroup():
				sm = emulator.SeedMember{Group: m.Principal.ID()}
				if !groups[m.Principal.ID()] {
					groups[m.Principal.ID()] = true
					seed.Groups = append(seed.Groups, emulator.SeedGroup{ID: m.Principal.ID()})
				}
			default:
				key := m.Principal.ID()
				if id, ok := groupAt[strings.ToLower(key)]; ok && !known[strings.ToLower(key)] {
					return nil, fmt.Errorf("%s: %s is the address of the seed's group groups/%s, not a person's: a source names a group as groups/%s or group:%s", m.Source, key, id, id, key)
				}
				if !known[key] {
					known[key] = true
					next++
					u := emulator.SeedUser{ID: key, Email: key}
					if m.Principal.Email() != "" {
						u.ID = fmt.Sprint(next)
					} else {
						u.Email = key + "@generated.example"
					}
					seed.Users = append(seed.Users, u)
				}
				sm.User = key
			}
			sp.Members = append(sp.Members, sm)
		}
		seed.Spaces = append(seed.Spaces, sp)
	}
	return seed, nil
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, " ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
