package job

// Every space is read, its identities settled and planned through the
// pipeline; a planned space's changes may be applied at once.

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/syncer-dev/syncer/internal/apply"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/identity"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/pipeline"
	"github.com/syncer-dev/syncer/internal/removals"
	"github.com/syncer-dev/syncer/internal/report"
)

// plannedSpaces is what the pipeline left.
type plannedSpaces struct {
	plans    []diff.SpacePlan // every space, read or not
	errors   []*SpaceError
	warnings []string
	planned  int
	ids      *identity.Service
	states   map[string]*membership.SpaceState // with KeepStates, the spaces with changes
	// sourcesChanged names the sources whose files changed after they
	// were read: no space planned after that was handed to the stream.
	sourcesChanged []string
}

// stampsEvery is how often, at most, a run whose writes start as spaces
// are planned checks its sources' stamps (a stat per source): tens of
// thousands of spaces must not cost seconds of stats.
const stampsEvery = 50 * time.Millisecond

// planSpaces reads, resolves and plans every space through the pipeline,
// handing each planned space to stream (when set) at once. desired is the
// sources as read; planning waits for rules to expand them, reading
// doesn't. A rule that fails stops the reads; no space is planned.
func (j *Job) planSpaces(ctx context.Context, desired membership.Desired, rules *pendingRules, policy diff.Policy, stream *apply.Stream, rm *removalRun) plannedSpaces {
	out := plannedSpaces{plans: make([]diff.SpacePlan, len(desired.Spaces)), states: map[string]*membership.SpaceState{}}
	var statesMu sync.Mutex
	latency := &latencyMeter{}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Once the rules are in: the identity service, and who the rails spare.
	var expanded membership.Desired
	var ruleUsers map[string]bool                 // the rules' people users.list named: the organisation's
	var ruleNamed map[string]membership.Principal // every rule's people (a group's may be outsiders)
	var actingID membership.Principal             // the acting user's, when known; set before ready
	ready := make(chan struct{})
	// The setup's steps: the rules expand (at the Directory's pace), the
	// identity service is built (the processor's work: for a big tenant a
	// second of matching the cache to the sources), then the rails' people
	// are looked up (the Directory's pace again). A space read meanwhile
	// keeps its place among those read ahead only while the processor works.
	expandedRules, built := make(chan struct{}), make(chan struct{})
	var setup sync.WaitGroup
	setup.Add(1)
	go func() {
		defer setup.Done()
		d, learned, err := rules.wait(ctx)
		if err != nil {
			cancel(err)
			return
		}
		expanded, ruleUsers, ruleNamed = d, rules.orgUsers, learned
		if rm != nil {
			rm.ruleSuspended = rules.suspended
		}
		close(expandedRules)
		if j.Resolver != nil {
			out.ids = j.Resolver.NewService(expanded, latency.estimate)
			out.ids.Learn(learned)
			// Lists without emails (as Google mostly answers) send most
			// addresses to the Directory: its first pages need not wait
			// for the first list's answer. Ends with ctx, at planning's end.
			out.ids.Anticipate(ctx)
		}
		close(built)
		out.warnings = j.prepareSpares(ctx, expanded, rm, out.ids)
		if rm != nil {
			// Who they are, should a source name them by an alias. Only
			// where the rails looked them up: a run that needs no
			// Directory must not ask it (nor its scope) for this alone.
			actingID = rm.acting.ID
		}
		close(ready)
	}()
	planners := sync.Pool{New: func() any {
		p := diff.NewPlanner(policy)
		p.RemoveSuspended = j.Config.RemoveSuspended
		return p
	}}
	warnings := make([]string, len(desired.Spaces))
	var unlisted onceEach // domains identity.domains leaves out that the Directory has users in
	streamText := stream != nil && j.Output == "text"
	var stampsChecked time.Time // when the sources' stamps were last checked (Done runs one space at a time)
	readAhead := newAhead(cmp.Or(j.ReadAhead, max(64, j.Config.Limits.CallsInFlight())+2*runtime.GOMAXPROCS(0)))
	pipeline.Run(ctx, len(desired.Spaces), j.Config.Limits.CallsInFlight(), pipeline.Stages[*heldSpace, diff.SpacePlan]{
		Read: func(ctx context.Context, i int) (*heldSpace, error) {
			ds := desired.Spaces[i]
			if err := readAhead.take(ctx); err != nil {
				return nil, err
			}
			placed := true
			st, warning, err := readSpace(ctx, j.Reader, j.Throttle, spaceRead{name: ds.Name, latency: latency, appAuth: j.AppAuth, held: j.Held,
				// Admin access can't read the app's membership (Check refused such sources).
				wantsApp: !j.AdminAccess && slices.ContainsFunc(ds.Members, func(m membership.DesiredMember) bool { return m.Principal == membership.App }),
				wantsType: slices.ContainsFunc(ds.Members, func(m membership.DesiredMember) bool { return m.Role.Elevated() || m.Principal.IsGroup() }) ||
					slices.ContainsFunc(ds.Rules, func(r membership.Rule) bool { return r.Role.Elevated() || r.Kind == membership.RuleGroup })})
			warnings[i] = warning
			j.Progress.SpaceRead()
			if err == nil && st.Type == membership.TypeDirectMessage {
				// Google fixes who is in a direct message: a source naming
				// one is a mistake (an ID copied from the wrong
				// conversation), and under sync its other person would be
				// planned for removal.
				j.Held.Release(heldCost(len(st.Memberships)))
				err = errDirectMessage
			}
			if err != nil {
				readAhead.give(&placed)
				return nil, err
			}
			h := hold(st)
			h.placed = placed
			return h, nil
		},
		Plan: func(ctx context.Context, i int, held *heldSpace) (diff.SpacePlan, error) {
			defer j.Held.Release(heldCost(held.count)) // readSpace held them
			defer readAhead.give(&held.placed)
			for _, step := range []chan struct{}{expandedRules, built, ready} {
				select {
				case <-step:
					continue // done already
				default:
				}
				if step != built {
					readAhead.give(&held.placed) // it waits for the Directory
				}
				select {
				case <-step:
				case <-ctx.Done():
					return diff.SpacePlan{}, fmt.Errorf("stopped before it was planned: %w", context.Cause(ctx))
				}
			}
			ds := expanded.Spaces[i]
			var (
				ids diff.Identities
				who identity.SpaceOutcome
			)
			if out.ids != nil {
				// Held in its compact form meanwhile; a wait for the pass
				// gives its place back.
				out.ids.Await(ctx, ds, held.missingEmails, func() { readAhead.give(&held.placed) })
			}
			st := held.state()
			if out.ids != nil {
				ids, who = out.ids.Space(ctx, ds, st, func() { readAhead.give(&held.placed) })
			}
			if ctx.Err() != nil {
				return diff.SpacePlan{}, fmt.Errorf("stopped before its plan was complete: %w", context.Cause(ctx))
			}
			p := planners.Get().(*diff.Planner)
			// Set once ready: its warning says nobody is removed for it.
			p.RemoveSuspended = j.Config.RemoveSuspended && (rm == nil || !rm.suspendedUnlisted)
			sp := p.Space(ds, st, ids)
			if out.ids != nil {
				// Role changes on the cache's word: the space is asked first
				// (cachedroles.go), a read each, not a processor's work.
				answers, unsure := j.cachedRoleChecks(ctx, out.ids, sp, func() { readAhead.give(&held.placed) })
				if confirmCachedRoles(out.ids, ids, answers) {
					sp = p.Space(ds, st, ids)
				}
				holdRoleChanges(&sp, unsure)
			}
			planners.Put(p)
			if j.AdminAccess {
				refuseOutsiders(&sp, func(email string) bool { return who.NotInDirectory[email] },
					"is not in the organisation's Directory and admin access can't add users outside it")
			}
			if outside := (Access{AppAuth: j.AppAuth, Admin: j.AdminAccess, Domains: j.Config.Identity.Domains}).outsideDomains(); outside != nil {
				refuseOutsiders(&sp, func(email string) bool {
					if !outside(email) {
						return false
					}
					if ruleUsers[email] || out.ids != nil && out.ids.NamedByDirectory(email) || ruleNamed[email] != "" && ownDomain(ctx, out.ids, email) {
						// The Directory named them one of the organisation's
						// users (an alias in a domain the list leaves out):
						// identity.domains is a hint for what it can't tell.
						if d := domainOf(email); unlisted.note(d) {
							sp.Warnings = append(sp.Warnings, fmt.Sprintf("identity.domains does not list %s, but the Directory names %s as one of the organisation's users (added): add %s to identity.domains", d, email, d))
						}
						return false
					}
					return true
				}, "is outside identity.domains, and this access can't add people outside the organisation")
			}
			if rm != nil {
				// Removals may page a protected group or look up who is
				// listed without an email: API calls, not a processor's work.
				readAhead.give(&held.placed)
				j.screenRemovals(ctx, &sp, ds, st, rm, out.ids, ids, who.Unresolved)
			}
			if ctx.Err() != nil {
				// The checks above ask the API: cut short, they decided
				// on less than they should have.
				return diff.SpacePlan{}, fmt.Errorf("stopped before its plan was complete: %w", context.Cause(ctx))
			}
			removals.GuardLastOwners(&sp) // any policy: upsert demotes owners too
			if acting := strings.ToLower(j.Acting); acting != "" {
				mine := actingMember(st, acting, cmp.Or(actingID, ids.Aliases[acting]))
				if mine != nil && j.Engine != nil {
					// Before this space is submitted: a source may name
					// them by an alias, and their own demotion goes last.
					j.Engine.ActingIs(mine.Principal)
				}
				if !j.AdminAccess && !j.AppAuth {
					warnBeyondActingRole(&sp, mine, acting)
				}
			}
			if j.KeepStates && len(sp.Changes) > 0 {
				statesMu.Lock()
				out.states[ds.Name] = st
				statesMu.Unlock()
			}
			return sp, nil
		},
		Done: func(i int, sp diff.SpacePlan, err error) {
			ds := desired.Spaces[i]
			if err != nil {
				out.plans[i] = diff.SpacePlan{Summary: diff.SpaceSummary{Name: ds.Name, Label: ds.Label, Desired: len(ds.Members)}}
				out.errors = append(out.errors, &SpaceError{Space: ds.Name, Err: err, Stopped: ctx.Err() != nil})
				if ctx.Err() == nil {
					j.Logger.Error("space not read; nothing is planned for it", "space", ds.Name, "error", err.Error())
				}
				return
			}
			out.plans[i] = sp
			out.planned++
			j.Progress.SpacePlanned(len(sp.Changes))
			j.Logger.Debug("space planned", "space", ds.Name, "changes", len(sp.Changes))
			if stream != nil && len(sp.Changes) > 0 {
				// A source written while it was read (an export half
				// written: a cut address is another person) stops the
				// writes from then on; a stat per source per space.
				if out.sourcesChanged == nil && time.Since(stampsChecked) >= stampsEvery {
					out.sourcesChanged, stampsChecked = j.SourceStamps.Changed(), time.Now()
				}
				if out.sourcesChanged != nil {
					for k := range out.plans[i].Changes {
						c := &out.plans[i].Changes[k]
						c.Status, c.Error = diff.Skipped, "not sent: a source changed after this run read it"
					}
					return
				}
				if streamText {
					report.TextSpace(j.Stdout, sp.Summary, sp.Changes) // people see each space's plan as it is decided
				}
				stream.Submit(out.plans[i].Changes)
			}
		},
	})
	setup.Wait() // it obeys ctx
	for _, w := range warnings {
		if w != "" {
			out.warnings = append(out.warnings, w)
			j.Logger.Warn(w)
		}
	}
	slices.SortFunc(out.errors, func(a, b *SpaceError) int { return strings.Compare(a.Space, b.Space) })
	return out
}

// StopReason says why ctx ended: the cause it was cancelled with (a signal,
// the run deadline, a failure no retry can mend), or its error.
func StopReason(ctx context.Context) string {
	if cause := context.Cause(ctx); cause != nil {
		return cause.Error()
	}
	return "not stopped"
}

// markUnread flags the spaces that could not be read, each with why, and
// says so first in the plan. Spaces a stopped run never got to are counted
// in the stop's own line.
func markUnread(p *diff.Plan, errs []*SpaceError, stop string) {
	why := map[string]string{}
	failed := 0
	for _, e := range errs {
		why[e.Space] = e.Err.Error()
		if stop != "" && strings.HasSuffix(why[e.Space], stop) {
			// What stopped the run (an answer, a signal, the deadline),
			// said in full above; what the space was doing is kept.
			why[e.Space] = strings.TrimSuffix(why[e.Space], stop) + "what stopped the run (above)"
		}
		if !e.Stopped {
			failed++
		}
	}
	for i := range p.Spaces {
		if w, ok := why[p.Spaces[i].Name]; ok {
			p.Spaces[i].Listed, p.Spaces[i].Error = false, w
		}
	}
	if failed > 0 {
		p.Incomplete = append(p.Incomplete, fmt.Sprintf("%d of %d spaces could not be read; nothing is planned for them", failed, len(p.Spaces)))
	}
}

// unresolvedLine names the addresses left unresolved, each with why; off,
// when set, is the Directory's one reason for many of them (the Admin SDK
// API not enabled), said once before them.
func unresolvedLine(unresolved map[string]string, off string) string {
	emails := make([]string, 0, len(unresolved))
	for e := range unresolved {
		emails = append(emails, e)
	}
	slices.Sort(emails)
	const show = 10
	parts := make([]string, 0, show+1)
	for i, e := range emails {
		if i == show {
			parts = append(parts, fmt.Sprintf("and %d more", len(emails)-show))
			break
		}
		if why := unresolved[e]; off == "" || !strings.Contains(why, identity.DisabledWhy) {
			parts = append(parts, e+" ("+why+")")
		} else {
			parts = append(parts, e)
		}
	}
	if off != "" {
		off = " (" + off + ")"
	}
	return fmt.Sprintf("%d addresses could not be resolved, so the plan may add people already present or miss role changes%s: %s",
		len(emails), off, strings.Join(parts, "; "))
}

// refuseOutsiders drops from a space's plan the creates the access can't
// make (people outside the organisation under admin access or app
// authentication), with a warning each; they may still be members already.
func refuseOutsiders(sp *diff.SpacePlan, outside func(email string) bool, why string) {
	kept := sp.Changes[:0]
	dropped := map[membership.Principal]bool{}
	for _, c := range sp.Changes {
		switch {
		case dropped[c.Principal]:
			continue // the role change that followed a refused create
		case c.Action == diff.Create && outside(c.Principal.Email()):
			sp.Warnings = append(sp.Warnings, fmt.Sprintf("%s: %s %s; not added to %s", c.Source, c.Member, why, c.Space))
			dropped[c.Principal] = true
		default:
			kept = append(kept, c)
		}
	}
	sp.Changes = kept
}

// onceEach tells, of each string it is given, whether it is the first
// time; safe for concurrent use.
type onceEach struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (o *onceEach) note(s string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.seen[s] {
		return false
	}
	if o.seen == nil {
		o.seen = map[string]bool{}
	}
	o.seen[s] = true
	return true
}

// ownDomain reports whether email's domain is the organisation's, as the
// Directory tells (identity.domains, its users, or one users.list for the
// domain a run): a group's member there is one of its users, not an
// outsider. False when that can't be told, or there is no Directory.
func ownDomain(ctx context.Context, ids *identity.Service, email string) bool {
	d := strings.ToLower(domainOf(email))
	if ids == nil || !ids.HasDirectory() || d == "" {
		return false
	}
	own, err := ids.OwnDomain(ctx, d)
	return err == nil && own
}
