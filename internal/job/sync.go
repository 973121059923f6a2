package job

// What policy sync needs through a run: the last run's removals state, who
// the rails spare, and the next state saved after a run that saw everything.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/identity"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/removals"
	"github.com/syncer-dev/syncer/internal/rules"
	"github.com/syncer-dev/syncer/internal/scrub"
	"github.com/syncer-dev/syncer/internal/state"
)

// RemovalsState is the name of the removals' state document.
const RemovalsState = "removals.json"

// removalRun is what policy sync needs through a run.
type removalRun struct {
	prev    *removals.State // nil on a first run
	version string
	// otherAPI: the state found was saved against an emulator (this API),
	// and this run calls Google's, so prev is nil. googleState: the state
	// found was saved against Google's, and this plan calls an emulator.
	otherAPI    string
	googleState bool
	protect     removals.Protect
	acting      removals.Acting
	// protectIDs are protect's addresses the Directory tied to IDs;
	// unresolvedProtect the others, asked per space.
	protectIDs        map[membership.Principal]string
	unresolvedProtect []string
	// suspendedUnlisted: remove_suspended is on, but the Directory's
	// suspended users could not be listed; nobody is removed for being
	// suspended in this run (what the pass happened to show would decide).
	suspendedUnlisted bool
	// ruleSuspended are, by space, the suspended or archived people a
	// rule there names: kept unless remove_suspended (set once the rules
	// are expanded, before any space is screened).
	ruleSuspended map[string]map[membership.Principal]rules.Held
}

// prepareRemovals reads the last run's state when any space's policy is
// sync. State that exists but can't be read fails the run before any
// write: it is never taken as "no previous state", which would switch the
// rails off.
func (j *Job) prepareRemovals(ctx context.Context, desired membership.Desired) (*removalRun, error) {
	if !j.syncAny(desired) {
		return nil, nil
	}
	if j.State == nil {
		return nil, errors.New("policy sync needs a state location (state.location) to keep the last run's totals and the grace counters")
	}
	if p, ok := j.State.(interface{ Probe(context.Context) error }); ok && j.Engine != nil {
		if err := p.Probe(ctx); err != nil {
			return nil, fmt.Errorf("policy sync keeps its totals and grace counters in state.location, which can't be written (%w); nothing was done", err)
		}
	}
	rm := &removalRun{protect: removals.NewProtect(j.Config.Protect), acting: removals.Acting{Email: strings.ToLower(j.Acting)}}
	data, version, err := j.State.Read(ctx, RemovalsState)
	switch {
	case errors.Is(err, state.ErrNotExist):
		j.Logger.Info("no removals state yet: this is the first run with policy sync here", "state", j.State.Where())
	case err != nil:
		return nil, fmt.Errorf("removals state %s/%s can't be read, so the safety rails can't be checked; nothing was done: %w", j.State.Where(), RemovalsState, err)
	default:
		prev, err := removals.ParseState(data)
		if err != nil {
			return nil, fmt.Errorf("removals state %s/%s: %w; nothing was done (move it aside only if you mean to start the rails afresh)", j.State.Where(), RemovalsState, err)
		}
		rm.version = version
		switch here := j.api(); {
		case prev.API == "" || prev.API == here || prev.API != removals.APIGoogle && here != removals.APIGoogle:
			// The same world (emulators on other ports are one kind), or
			// a state from before the API was kept.
			rm.prev = prev
		case prev.API == removals.APIGoogle && j.Engine == nil && !j.SavesPlan:
			// A plan of a production config against an emulator saves
			// nothing: it goes without the state.
			rm.googleState = true
			j.Logger.Warn("the removals state was saved by runs against Google's APIs, and this run calls another: it plans without it (and saves nothing)", "state", j.State.Where(), "api", here)
		case prev.API == removals.APIGoogle:
			// A production config tried against an emulator: its spaces
			// marked synced there would skip Google's first-run stop.
			return nil, fmt.Errorf("removals state %s/%s was saved by runs against Google's APIs, and this run calls %s: what it would save (spaces synced, members away) is another world's, and Google's runs would take it for theirs; give this run its own state.location (in a copy of the config); nothing was done", j.State.Where(), RemovalsState, here)
		default:
			rm.otherAPI = prev.API
			j.Logger.Warn("the removals state was saved by runs against another API, not Google's: this run starts the rails afresh", "state", j.State.Where(), "saved_against", prev.API)
		}
	}
	return rm, nil
}

// api is what this run calls, as the removals state records it.
func (j *Job) api() string { return APIOf(j.Config) }

// APIOf names the API a config's runs call, as the state records it:
// removals.APIGoogle, or the endpoint (an emulator's). States of the one
// kind are another world's to the other.
func APIOf(cfg *config.Config) string {
	if cfg.IsGoogleEndpoint() {
		return removals.APIGoogle
	}
	return scrub.URL(cfg.API.Endpoint)
}

func (j *Job) saveRemovals(ctx context.Context, rm *removalRun, next *removals.State) error {
	next.API = j.api()
	data, err := next.Encode()
	if err != nil {
		return err
	}
	if _, err := j.State.Write(ctx, RemovalsState, data, rm.version); err != nil {
		return fmt.Errorf("removals state not saved: %w", err)
	}
	return nil
}

// syncAny reports whether any space removes members (policy sync).
func (j *Job) syncAny(d membership.Desired) bool {
	for _, s := range d.Spaces {
		if s.Policy == config.PolicySync || s.Policy == "" && j.Config.Policy == config.PolicySync {
			return true
		}
	}
	return false
}

// gated reports whether every write must wait for the whole plan: with
// removals, the safety checks need to see it all first.
func (j *Job) gated(d membership.Desired) bool { return j.syncAny(d) }

// prepareSpares readies what the rails need per space: who is acting,
// the protected people's IDs, the suspended. It returns warnings.
func (j *Job) prepareSpares(ctx context.Context, desired membership.Desired, rm *removalRun, ids *identity.Service) []string {
	if rm == nil {
		return nil
	}
	rm.protectIDs = map[membership.Principal]string{}
	if ids == nil {
		return nil
	}
	ids.Careful = func(space string) bool { return j.syncing(desired, space) }
	if rm.acting.Email != "" {
		rm.acting.ID, _ = ids.Resolve(ctx, rm.acting.Email)
	}
	// protect names people by address; a member is listed under one of
	// theirs, or none: match by ID too.
	for _, email := range rm.protect.Emails() {
		if id, ok := ids.Resolve(ctx, email); ok {
			rm.protectIDs[id] = email
		} else {
			rm.unresolvedProtect = append(rm.unresolvedProtect, email)
		}
	}
	if j.Config.RemoveSuspended {
		if err := ids.LoadSuspended(ctx); err != nil {
			rm.suspendedUnlisted = true
			return []string{"remove_suspended: the Directory's suspended users could not be listed; nobody is removed for being suspended: " + err.Error()}
		}
	}
	return nil
}

// screenRemovals keeps in place, in one space's plan, who must never be
// removed, and who can't be told apart from someone the sources want:
// members listed without an email, and where the identity cache matched
// wanted addresses those it would remove, are looked up first.
func (j *Job) screenRemovals(ctx context.Context, sp *diff.SpacePlan, ds membership.DesiredSpace, st *membership.SpaceState, rm *removalRun, ids *identity.Service, known diff.Identities, unresolved map[string]string) {
	if !slices.ContainsFunc(sp.Changes, func(c diff.Change) bool { return c.Action == diff.Delete }) {
		return
	}
	unresolved = j.unknownWantedIDs(ctx, sp, ids, unresolved)
	in := removals.ScreenInput{Protect: rm.protect, ProtectIDs: rm.protectIDs, Acting: rm.acting, Unresolved: unresolved, Wanted: map[string]bool{}}
	// People a rule here names who are suspended or archived: the rule
	// adds no such people, yet names them; suspension removes them only
	// under remove_suspended (and when the Directory's suspended users
	// were listed, as for everyone else).
	for p, held := range rm.ruleSuspended[ds.Name] {
		if j.Config.RemoveSuspended && !rm.suspendedUnlisted && !held.Archived {
			for i, c := range sp.Changes {
				if c.Action == diff.Delete && c.Principal == p && c.Reason == diff.ReasonAbsent {
					sp.Changes[i].Reason = diff.ReasonSuspended
				}
			}
			continue
		}
		if in.RuleSuspended == nil {
			in.RuleSuspended = map[membership.Principal]string{}
		}
		switch {
		case held.Archived:
			in.RuleSuspended[p] = fmt.Sprintf("archived in the Directory, and named by %s: rules add no archived people, and nothing removes them for it", held.Rule)
		case j.Config.RemoveSuspended:
			in.RuleSuspended[p] = fmt.Sprintf("suspended in the Directory, and named by %s: rules add no suspended people, and the Directory's suspended users could not be listed this run", held.Rule)
		default:
			in.RuleSuspended[p] = fmt.Sprintf("suspended in the Directory, and named by %s: rules add no suspended people, and remove_suspended is off", held.Rule)
		}
	}
	for _, m := range ds.Members {
		if e := m.Principal.Email(); e != "" {
			in.Wanted[e] = true
		}
	}
	// Addresses the Directory could not tie to an ID (the acting user's,
	// protect's): this space answers who they are here, a read each.
	ask := slices.Clone(rm.unresolvedProtect)
	if in.Acting.ID == "" && in.Acting.Email != "" {
		ask = append(ask, in.Acting.Email)
	}
	if len(ask) > 0 {
		in.ProtectIDs = maps.Clone(rm.protectIDs)
		for _, email := range ask {
			p, err := j.memberByEmail(ctx, ids, ds.Name, email)
			switch {
			case err != nil:
				in.Unsure = fmt.Sprintf("can't tell who %s is in this space (%v), and it must not be removed", email, err)
			case p == "":
				// not a member here
			case email == in.Acting.Email:
				in.Acting.ID = p
			default:
				in.ProtectIDs[p] = email
			}
		}
	}
	// People in the space through a group the sources want there: Google
	// keeps them, and they are wanted through it.
	for _, m := range ds.Members {
		if !m.Principal.IsGroup() || in.Unsure != "" {
			continue
		}
		if in.ViaGroup == nil {
			in.ViaGroup = map[membership.Principal]string{}
		}
		if j.Rules == nil {
			in.Unsure = fmt.Sprintf("the sources want %s here, and without the Directory its members can't be listed: anyone may be in the space through it", m.Principal)
			break
		}
		people, err := j.Rules.GroupPeople(ctx, m.Principal)
		if err != nil {
			in.Unsure = fmt.Sprintf("the sources want %s here, and its members could not be listed (%v): anyone may be in the space through it", m.Principal, err)
			break
		}
		for p := range people {
			if _, ok := in.ViaGroup[p]; !ok {
				in.ViaGroup[p] = string(m.Principal)
			}
		}
	}
	// People to remove are looked up by ID (a users.get each, shared
	// across spaces): who a member listed without an email is and, where
	// the identity cache matched an address the sources want here, whether
	// the person is that address's owner under an identity the cache had
	// wrong (an alias moved to them, their account replaced): their
	// addresses, aliases included, tell.
	in.Cached = slices.Contains(slices.Collect(maps.Values(known.ResolvedBy)), identity.ByCache)
	// The last owner no source names stays whatever happens (GuardLastOwners,
	// after Screen): no lookup is owed for them, run after run.
	considered, held := *sp, removals.LastOwnerHeld(*sp)
	lastOwner := "" // the membership GuardLastOwners keeps, whatever Screen decides
	if held >= 0 {
		lastOwner = sp.Changes[held].Membership
		considered.Changes = slices.Delete(slices.Clone(sp.Changes), held, held+1)
	}
	var people []membership.Principal
	for i, c := range sp.Changes {
		if !isUserRemoval(c) {
			continue
		}
		if !strings.Contains(c.Member, "@") || in.Cached && i != held && !removals.Keeps(c, in) {
			people = append(people, c.Principal)
		}
	}
	var refused map[membership.Principal]bool
	if len(people) > 0 && ids != nil {
		in.Emails, in.Unknown, refused = ids.EmailsOf(ctx, people)
		for i, c := range sp.Changes {
			if e := in.Emails[c.Principal]; len(e) > 0 && c.Action == diff.Delete && !strings.Contains(c.Member, "@") {
				sp.Changes[i].Member = e[0] // people read emails better than IDs
			}
		}
	}
	if in.Cached && removals.WouldRemove(considered, in) {
		// Someone would be removed where the cache matched wanted
		// addresses. The space is asked who those addresses are here: the
		// ones the plan adds (their cached ID is not a member), or all of
		// them when no Directory names the people to remove (there is none,
		// or it answered 404/400/403 for one of them).
		j.checkCached(ctx, sp, ds, ids, known, &in, !ids.HasDirectory() || len(refused) > 0)
	}
	// Last, once the rails know whom they keep: they are never removed,
	// and a group's removal would take them too. Someone in the space
	// through a group the sources want stays through it.
	// The last owner GuardLastOwners keeps (after Screen) is theirs too.
	rails := in
	rails.ViaGroup = nil
	var sourced map[membership.Principal]string // the sources' addresses, by the IDs they resolved to
	// The owner GuardLastOwners keeps where every joined owner would go
	// (one of two, say), not only the space's one owner.
	// What Screen keeps, as GuardLastOwners will see it: people in the
	// space through a group the sources want stay too.
	screenedIn := in
	screened := func(c diff.Change) bool { return removals.Keeps(c, screenedIn) }
	if lastOwner == "" {
		lastOwner = removals.OwnerGuarded(*sp, screened)
	}
	// The owners a handover takes away leave only once the successor is a
	// joined owner (apply holds their removals until then): a group's
	// removal, sent regardless, must not take them first. The group stays
	// this run; the next, with the successor an owner, removes it.
	guarded, handedOver := map[string]bool{}, map[string]bool{}
	if lastOwner != "" {
		guarded[lastOwner] = true
	}
	for _, m := range removals.HandedOver(*sp, screened) {
		guarded[m], handedOver[m] = true, true
	}
	in.GroupHolds, in.ViaHeld = j.groupsTakingWanted(ctx, sp, st, guarded, handedOver, func(c diff.Change) bool {
		return guarded[c.Membership] || removals.Keeps(c, rails)
	}, func(p membership.Principal) string {
		// Lists mostly show no emails: the address the Directory gave,
		// or the one a source wants here under that ID.
		if e := in.Emails[p]; len(e) > 0 {
			return e[0]
		}
		if sourced == nil {
			sourced = map[membership.Principal]string{}
			for _, m := range ds.Members {
				if e := m.Principal.Email(); e != "" && known.Aliases[e] != "" && sourced[known.Aliases[e]] == "" {
					sourced[known.Aliases[e]] = e
				}
			}
		}
		return cmp.Or(sourced[p], string(p))
	}, func(email string) bool {
		// Known to be outside the organisation (in no group holding
		// everyone in it); what can't be told is taken as inside.
		_, d, ok := strings.Cut(strings.ToLower(email), "@")
		if !ok || ids == nil || !ids.HasDirectory() {
			return false
		}
		own, err := ids.OwnDomain(ctx, d)
		return err == nil && !own
	})
	if ids != nil {
		in.Stale = ids.Forget
	}
	removals.Screen(sp, in)
}

func isUserRemoval(c diff.Change) bool { return c.Action == diff.Delete && !c.Principal.IsGroup() }

// checkCached asks the space who addresses the identity cache matched
// are here: an entry may be out of date (the address someone else's now,
// or its owner's account replaced), and the member to remove may be the
// very person the address means. Asked: the addresses the plan adds under
// a cached ID, and, with all (no Directory to name the people to remove
// by their aliases, or it refused to name one), every cached one. A
// member found under another ID is kept and the entry forgotten. A read
// each, side by side.
func (j *Job) checkCached(ctx context.Context, sp *diff.SpacePlan, ds membership.DesiredSpace, ids *identity.Service, known diff.Identities, in *removals.ScreenInput, all bool) {
	ask := map[string]membership.Principal{}
	for _, c := range sp.Changes {
		if e := c.Principal.Email(); c.Action == diff.Create && c.ResolvedBy == identity.ByCache && e != "" {
			ask[e] = c.ID
		}
	}
	if all {
		for email, how := range known.ResolvedBy {
			if p, ok := known.Aliases[email]; ok && how == identity.ByCache {
				ask[email] = p
			}
		}
	}
	emails := slices.Sorted(maps.Keys(ask))
	answers, failed := j.askSpace(ctx, ids, ds.Name, emails)
	for _, email := range emails {
		if err, ok := failed[email]; ok {
			if in.Unsure == "" {
				in.Unsure = fmt.Sprintf("can't tell who %s is in this space (%v), and the identity cache may be out of date about them", email, err)
			}
			continue
		}
		if p := answers[email].Principal; p != "" && p != ask[email] {
			if in.SameAs == nil {
				in.SameAs = map[membership.Principal]string{}
			}
			in.SameAs[p] = email
			ids.Forget(email)
		}
	}
}

// askSpace asks a space who each address is there, a membership read each,
// side by side (8 at a time, under the read pace): answers hold the
// memberships (the zero one for "not a member"), failed why a read could
// not be made.
func (j *Job) askSpace(ctx context.Context, ids *identity.Service, space string, emails []string) (answers map[string]membership.Membership, failed map[string]error) {
	answers, failed = make(map[string]membership.Membership, len(emails)), map[string]error{}
	var mu sync.Mutex
	g := errgroup.Group{}
	g.SetLimit(8)
	for _, email := range emails {
		g.Go(func() error {
			m, err := j.memberRead(ctx, ids, space, email)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed[email] = err
			} else {
				answers[email] = m
			}
			return nil
		})
	}
	g.Wait()
	return answers, failed
}

// memberByEmail asks a space who an address is there (Chat accepts any of
// a user's addresses): their canonical name, "" when not a member.
func (j *Job) memberByEmail(ctx context.Context, ids *identity.Service, space, email string) (membership.Principal, error) {
	m, err := j.memberRead(ctx, ids, space, email)
	return m.Principal, err
}

// memberRead is memberByEmail's read, the membership whole (its member's
// email, where the answer shows one); the zero membership when not a
// member. A member the answer names by address (users/{email}, not
// users/{id}) is named by the ID the Directory (ids, may be nil) gives
// that address.
func (j *Job) memberRead(ctx context.Context, ids *identity.Service, space, email string) (membership.Membership, error) {
	var m membership.Membership
	err := j.Throttle.Read(ctx, "get", space, func(ctx context.Context) (err error) {
		m, err = j.Reader.Get(ctx, space, email)
		return err
	})
	switch {
	case errors.Is(err, chatapi.ErrNotFound):
		return membership.Membership{}, nil
	case err != nil:
		return membership.Membership{}, err
	case m.Name == "" || m.Principal == "":
		// An answer naming no member (an empty 200, a membership without
		// its user) is not "not a member": who the address is stays
		// unknown, and nobody is removed or promoted on it.
		return membership.Membership{}, fmt.Errorf("the read of %s in %s answered with no member (a fault on the server's side)", email, space)
	case m.Principal.Email() != "":
		// Named by an address, not users/{id}: which listed member it is
		// can't be told (as ProtectIDs or the acting user's ID it would
		// match none of them) unless the Directory names its ID.
		if ids != nil {
			if p, ok := ids.Resolve(ctx, m.Principal.Email()); ok && p.Email() == "" && !p.IsGroup() {
				m.Principal = p
				return m, nil
			}
		}
		return membership.Membership{}, fmt.Errorf("the read of %s in %s answered with the member named by address (%s), not by ID, and the Directory does not name its ID", email, space, m.Principal)
	}
	return m, nil
}

// syncing reports whether a space's plan may remove members.
func (j *Job) syncing(d membership.Desired, space string) bool {
	i, ok := slices.BinarySearchFunc(d.Spaces, space, func(s membership.DesiredSpace, name string) int { return strings.Compare(s.Name, name) })
	if !ok {
		return false
	}
	p := d.Spaces[i].Policy
	return p == config.PolicySync || p == "" && j.Config.Policy == config.PolicySync
}

// unknownWantedIDs adds to unresolved the Directory IDs the sources name in
// this space that are not members and that the Directory does not know (a
// mistyped ID, a deleted account): like an address no user has, such an
// entry may mean any member here, so nobody in the space is removed for it.
// Each is a users.get, shared across spaces; the space's plan says why.
func (j *Job) unknownWantedIDs(ctx context.Context, sp *diff.SpacePlan, ids *identity.Service, unresolved map[string]string) map[string]string {
	var asked []membership.Principal
	for _, c := range sp.Changes {
		if c.Action == diff.Create && !c.Principal.IsGroup() && c.Principal.Email() == "" && c.Principal != membership.App {
			asked = append(asked, c.Principal)
		}
	}
	if len(asked) == 0 {
		return unresolved
	}
	var (
		emails map[membership.Principal][]string
		failed map[membership.Principal]error
	)
	if ids != nil && ids.HasDirectory() {
		emails, failed, _ = ids.EmailsOf(ctx, asked)
	}
	out := maps.Clone(unresolved) // unresolved is shared with the run's report
	if out == nil {
		out = map[string]string{}
	}
	for _, p := range asked {
		if len(emails[p]) > 0 {
			continue
		}
		why := "no user of the organisation's Directory has this ID (a mistyped or deleted one)"
		switch {
		case ids == nil || !ids.HasDirectory():
			why = "no Directory to tell who this ID is"
		case failed[p] != nil:
			why = fmt.Sprintf("the Directory could not be asked (%v)", failed[p])
		}
		out[string(p)] = why
		sp.Incomplete = append(sp.Incomplete, fmt.Sprintf("%s: %s, which the sources name, is not a member and %s; nobody there is removed this run", sp.Summary.Name, p, why))
	}
	return out
}
