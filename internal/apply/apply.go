// Package apply executes a plan against the Chat API: concurrently, within
// the quotas (every call waits on the throttle first), retrying what can be
// retried, and recording an outcome for every change instead of stopping at
// the first error. It is idempotent: a create answered 409 and a delete
// answered 404 are already done, so a rerun after any failure converges.
package apply

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/progress"
	"github.com/syncer-dev/syncer/internal/throttle"
)

// API is what apply needs from the Chat API.
type API interface {
	Create(ctx context.Context, space string, p membership.Principal) (membership.Membership, error)
	PatchRole(ctx context.Context, name string, role membership.Role) (membership.Membership, error)
	Delete(ctx context.Context, name string) error
	Get(ctx context.Context, space, member string) (membership.Membership, error)
	OwnersPage(ctx context.Context, space, pageToken string) ([]membership.Membership, string, error)
}

var _ API = (*chatapi.Client)(nil)

// Engine applies plans.
type Engine struct {
	API         API
	Throttle    *throttle.Throttle
	Concurrency int
	Logger      *slog.Logger
	Progress    *progress.Progress // optional
	// Acting is the email of the user the syncer acts as ("" for a Chat
	// app): a change that lowers their own role goes last in its space.
	Acting string

	actingMu  sync.Mutex
	actingIDs map[membership.Principal]bool // ActingIs
}

// ActingIs tells the engine the acting user's canonical users/{id}, found
// while planning: a source may name them by another address than Acting
// (an alias), and their own demotion must still go last. Call it before
// submitting a space whose changes may be theirs.
func (e *Engine) ActingIs(id membership.Principal) {
	if id == "" {
		return
	}
	e.actingMu.Lock()
	defer e.actingMu.Unlock()
	if e.actingIDs == nil {
		e.actingIDs = map[membership.Principal]bool{}
	}
	e.actingIDs[id] = true
}

// acting reports whether c is a change to the user the syncer acts as.
func (e *Engine) acting(c diff.Change) bool {
	if isActing(c, e.Acting) {
		return true
	}
	e.actingMu.Lock()
	defer e.actingMu.Unlock()
	return c.ID != "" && e.actingIDs[c.ID] || e.actingIDs[c.Principal]
}

// Apply executes every change of plan, filling in Status and Error, and
// marks the plan applied. Spaces run in parallel; within a space, creates
// and promotions run before demotions and deletes, so an owner swap never
// leaves the space without an owner (Google refuses to demote or remove the
// last one), and the acting user's own demotion runs after both. It returns ctx's error when it was interrupted; changes not
// attempted then are skipped.
func (e *Engine) Apply(ctx context.Context, plan *diff.Plan) error {
	s := e.Stream(ctx)
	for start := 0; start < len(plan.Changes); {
		end := start + 1
		for end < len(plan.Changes) && plan.Changes[end].Space == plan.Changes[start].Space {
			end++
		}
		s.Submit(plan.Changes[start:end])
		start = end
	}
	err := s.Wait()
	plan.Applied = true
	plan.Recount()
	return err
}

// Stream applies spaces' changes as they are submitted, while the caller
// goes on planning others: calls in flight stay bounded by Concurrency and
// every call waits on the throttle.
type Stream struct {
	e       *Engine
	ctx     context.Context
	g       errgroup.Group
	spaces  sync.WaitGroup
	skipped atomic.Int64
}

// Stream starts applying; Submit spaces, then Wait.
func (e *Engine) Stream(ctx context.Context) *Stream {
	if e.Logger == nil {
		e.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Stream{e: e, ctx: ctx}
	s.g.SetLimit(max(1, e.Concurrency))
	return s
}

// Submit applies one space's changes (all of the same space), filling in
// their Status and Error; the slice must not be touched until Wait returns.
func (s *Stream) Submit(changes []diff.Change) {
	if len(changes) == 0 {
		return
	}
	s.spaces.Add(1)
	go func() {
		defer s.spaces.Done()
		for n, phase := range phases(changes, s.e.acting) {
			if n >= 1 {
				s.e.holdOwnerLosses(changes, phase)
			}
			var done sync.WaitGroup
			for _, chain := range phase {
				if s.ctx.Err() != nil {
					for _, i := range chain {
						skip(&changes[i], "run interrupted before this change")
						changes[i].Stopped = true
						s.e.Progress.ChangeDone()
					}
					s.skipped.Add(int64(len(chain)))
					continue
				}
				if decided(changes, chain) {
					continue // before it ran (holdOwnerLosses, or in effect already)
				}
				done.Add(1)
				s.g.Go(func() error {
					defer done.Done()
					s.e.runChain(s.ctx, changes, chain)
					return nil
				})
			}
			done.Wait() // the next phase of this space waits for this one
		}
	}()
}

// Wait returns when every submitted change has an outcome; it returns ctx's
// error when the run was interrupted.
func (s *Stream) Wait() error {
	s.spaces.Wait()
	_ = s.g.Wait() // chains record their own failures
	if n := s.skipped.Load(); n > 0 {
		s.e.Logger.Warn("changes skipped: the run stopped before them", "changes", n)
	}
	return s.ctx.Err()
}

// phases groups one space's changes into per-member chains (a create always
// precedes that member's role patch), and the chains into phases: first
// those that add (creates, promotions), then the removals of Google Groups
// whose people the plan removes too (diff.Change.Takes: Google takes them
// with the group; a removal of one of them sent first would be refused,
// sent after it is done already), then those that take away (demotions,
// deletes), and last those that take away from acting, the user the syncer
// acts as: lowered first, its role would no longer allow the others (a
// manager changes no owner's role, a member no one's). A group whose
// people were not listed (no Directory; or a plan file made before plan
// files kept them) goes last too: it may take the acting user with it.
func phases(changes []diff.Change, acting func(diff.Change) bool) [4][][]int {
	chainOf := map[membership.Principal]int{}
	var chains [][]int
	for i, c := range changes {
		n, ok := chainOf[c.Principal]
		if !ok {
			n = len(chains)
			chainOf[c.Principal] = n
			chains = append(chains, nil)
		}
		chains[n] = append(chains[n], i)
	}
	var out [4][][]int
	for _, chain := range chains {
		phase := 0
		for _, i := range chain {
			switch c := changes[i]; {
			case c.Action == diff.Delete && c.Principal.IsGroup() && len(c.Takes) > 0:
				phase = max(phase, 1)
			case c.Action == diff.Delete && c.Principal.IsGroup():
				phase = 3
			case takesAway(c) && acting(c):
				phase = 3
			case takesAway(c):
				phase = max(phase, 2)
			}
		}
		out[phase] = append(out[phase], chain)
	}
	return out
}

// isActing reports whether c is a change to the user whose email is acting.
func isActing(c diff.Change, acting string) bool {
	return acting != "" && (strings.EqualFold(c.Member, acting) || strings.EqualFold(c.Principal.Email(), acting))
}

// holdOwnerLosses decides, before each phase that takes away runs, the changes that
// take an owner away and must not be sent: Google would refuse to leave the
// space without a joined owner, and the reason below says why better than
// that refusal. A change that waits for a successor (the plan's last-owner
// guard named one) goes only if the successor's promotion succeeded and
// their membership is joined. A change with no successor goes: the plan saw
// other joined owners stay (removals.GuardLastOwners names a successor
// wherever none would), so no promotion is its concern, and should someone
// have demoted them since, Google refuses it and it fails.
func (e *Engine) holdOwnerLosses(changes []diff.Change, phase [][]int) {
	promoted := map[membership.Principal]*diff.Change{}
	var joined *diff.Change // a promotion that made a joined owner
	for i := range changes {
		c := &changes[i]
		if c.Action != diff.UpdateRole || c.ToRole != membership.RoleOwner {
			continue
		}
		promoted[c.Principal] = c
		if succeeded(*c) && !c.Invited && joined == nil {
			joined = c
		}
	}
	for _, chain := range phase {
		for _, i := range chain {
			c := &changes[i]
			if c.FromRole != membership.RoleOwner || !takesAway(*c) || c.Status != "" || c.Successor == "" {
				continue
			}
			if s := promoted[c.Successor]; (s == nil || s.Invited || !succeeded(*s)) && joined != nil {
				// The successor the plan named did not become a joined
				// owner, but another did (the source made two owners, the
				// one named first only invited): that one stands in.
				c.Successor = joined.Principal
			}
			switch s := promoted[c.Successor]; {
			case s == nil:
				skip(c, fmt.Sprintf("not attempted: it waits for %s to be made owner, which this apply does not do", c.Successor.Display()))
			case s.Invited:
				skip(c, fmt.Sprintf("not attempted: successor %s is invited, not joined; %s stays owner until %s accepts (a later run finishes the handover)", s.Member, c.Member, s.Member))
			case !succeeded(*s):
				skip(c, fmt.Sprintf("not attempted: making successor %s owner did not succeed, and %s is the space's last owner", s.Member, c.Member))
			}
			if c.Status != "" {
				e.Logger.Warn("the space's last owner stays", "space", c.Space, "member", c.Member, "action", c.Action, "why", c.Error)
			}
		}
	}
}

func succeeded(c diff.Change) bool { return c.Status == diff.Applied || c.Status == diff.AlreadyDone }

// decided reports whether every change of a chain has its outcome already.
func decided(changes []diff.Change, chain []int) bool {
	for _, i := range chain {
		if changes[i].Status == "" {
			return false
		}
	}
	return true
}

// takesAway reports whether a change removes a member or lowers a role.
func takesAway(c diff.Change) bool {
	return c.Action == diff.Delete || c.Action == diff.UpdateRole && c.ToRole.Rank() < c.FromRole.Rank()
}

// runChain applies one member's changes in order; once one fails, the rest
// are skipped because they depend on it.
func (e *Engine) runChain(ctx context.Context, changes []diff.Change, chain []int) {
	var created *membership.Membership // what a create in this chain produced
	existed := false                   // a create in this chain was answered "already exists"
	for n, i := range chain {
		c := &changes[i]
		if c.Status != "" {
			continue // in effect already (a saved plan applied again)
		}
		if ctx.Err() != nil {
			skip(c, "run interrupted before this change")
			c.Stopped = true
			e.Logger.Warn("change skipped: the run stopped before it", "space", c.Space, "member", c.Member, "action", c.Action)
			e.Progress.ChangeDone()
			continue
		}
		var err error
		switch c.Action {
		case diff.Create:
			created, err = e.create(ctx, c)
			existed = c.Status == diff.AlreadyDone
		case diff.UpdateRole:
			err = e.updateRole(ctx, c, created, existed)
		case diff.Delete:
			err = e.delete(ctx, c)
		default:
			err = fmt.Errorf("unknown action %q", c.Action)
		}
		e.Progress.ChangeDone()
		if err != nil {
			c.Status, c.Error = diff.Failed, err.Error()
			// Stopped before any call, or after a 429 (a refusal, so nothing
			// happened): skipped. After a transient error, or with the call in
			// flight, the write may have happened: failed, and the next run
			// finds out. Either way the run did not finish this change.
			stopped := errors.Is(err, throttle.ErrInterrupted) || errors.Is(err, throttle.ErrDeadline) || errors.Is(err, throttle.ErrAbandoned)
			c.Stopped = stopped
			if stopped && !errors.Is(err, chatapi.ErrTransient) && !errors.Is(err, throttle.ErrAbandoned) {
				c.Status = diff.Skipped
				e.Logger.Warn("change skipped: the run stopped before it", "space", c.Space, "member", c.Member, "action", c.Action, "error", c.Error)
			} else {
				e.Logger.Warn("change failed", "space", c.Space, "member", c.Member, "action", c.Action, "error", c.Error)
			}
			for _, rest := range chain[n+1:] {
				skip(&changes[rest], fmt.Sprintf("not attempted: the %s before it did not succeed", c.Action))
				changes[rest].Stopped = stopped
				e.Progress.ChangeDone()
			}
			return
		}
		e.Logger.Debug("change done", "space", c.Space, "member", c.Member, "action", c.Action, "status", c.Status)
	}
}

func skip(c *diff.Change, why string) { c.Status, c.Error = diff.Skipped, why }

// updateRole patches a role. For a member created or found in this run it
// first learns the canonical name; a member found already in the role needs
// no write. existed says the create before it was answered "already
// exists".
func (e *Engine) updateRole(ctx context.Context, c *diff.Change, created *membership.Membership, existed bool) error {
	name := c.Membership
	if name == "" && created != nil {
		name, c.Invited = created.Name, created.State == membership.StateInvited
	}
	if name == "" {
		m, err := e.getMember(ctx, c)
		if existed && errors.Is(err, chatapi.ErrNotFound) {
			// Google said the membership exists, yet won't show it: an
			// invitation this access can't see (app authentication lists no
			// invitations). The role waits for them to accept.
			c.Invited = true
			skip(c, "the member is in the space (the create was answered \"already exists\") but can't be read: an invitation not yet accepted, which this access can't see; the role waits until they accept")
			return nil
		}
		if err != nil {
			return fmt.Errorf("find the membership to patch: %w", err)
		}
		if m.Role == c.ToRole {
			c.Status, c.Membership = diff.AlreadyDone, m.Name
			return nil
		}
		name, c.Invited = m.Name, m.State == membership.StateInvited
	}
	if c.Invited && c.ToRole == membership.RoleOwner {
		// An owner must have joined: the role waits for the invitation to
		// be accepted, and a later run sets it. Not sent, not a failure.
		c.Membership = name
		skip(c, "the member is invited, not joined: the owner role waits until they accept (a later run sets it)")
		return nil
	}
	var patched membership.Membership
	err := e.Throttle.Write(ctx, "patch", c.Space, func(ctx context.Context) (err error) {
		patched, err = e.API.PatchRole(ctx, name, c.ToRole)
		return err
	})
	if err == nil && patched.State != "" {
		c.Invited = patched.State == membership.StateInvited
	}
	otherName := patched.Name != "" && patched.Name != name && !strings.Contains(patched.Name+name, "@") // an address names a membership too
	if err == nil && (patched.Role != "" && patched.Role != c.ToRole || otherName) {
		// Google answered with a role, or a membership, other than asked:
		// the change is not known to be made, and nothing that depends on
		// it (an owner's removal waiting for this successor) goes.
		got := string(patched.Role)
		if otherName {
			got = "membership " + patched.Name
		}
		return fmt.Errorf("Google answered the role change with %s, not %s for %s: the role is not known to be set (the next run finds out)", got, c.ToRole, name)
	}
	if err != nil && c.Invited && errors.Is(err, chatapi.ErrPermanent) {
		// Whether the API sets roles on pending invitations is undocumented;
		// where it refuses, the role waits for the member to accept, and a
		// later run sets it. That is not a failure of this run.
		skip(c, "the role waits until the invitation is accepted ("+err.Error()+")")
		return nil
	}
	if err != nil {
		return err
	}
	c.Status, c.Membership = diff.Applied, name
	return nil
}

// otherOwners counts the joined owners of c's space other than c's member.
func (e *Engine) otherOwners(ctx context.Context, c *diff.Change) (int, error) {
	n, token := 0, ""
	guard := chatapi.PageGuard{What: "the owners of " + c.Space}
	for {
		var page []membership.Membership
		var next string
		err := e.Throttle.Read(ctx, "list owners", c.Space, func(ctx context.Context) (err error) {
			page, next, err = e.API.OwnersPage(ctx, c.Space, token)
			return err
		})
		if err != nil {
			return 0, err
		}
		for _, m := range page {
			if m.Role == membership.RoleOwner && m.State != membership.StateInvited && m.Principal != "" && m.Name != c.Membership &&
				m.Principal != c.Principal && (c.ID == "" || m.Principal != c.ID) {
				n++
			}
		}
		if err := guard.Next(len(page), next); err != nil || next == "" {
			return n, err
		}
		token = next
	}
}

func (e *Engine) delete(ctx context.Context, c *diff.Change) error {
	err := e.Throttle.Write(ctx, "delete", c.Space, func(ctx context.Context) error {
		return e.API.Delete(ctx, c.Membership)
	})
	var apiErr *chatapi.Error
	switch {
	case err == nil:
		c.Status = diff.Applied
	case errors.Is(err, chatapi.ErrNotFound):
		c.Status = diff.AlreadyDone
	case errors.Is(err, chatapi.ErrPermanent) && errors.As(err, &apiErr) && apiErr.Status == "FAILED_PRECONDITION" && c.FromRole == membership.RoleOwner:
		// An owner Google keeps: through a Google Group, or as the last
		// one (the plan saw others, but they have been demoted or have
		// left since). Google's words for each are not documented: the
		// space's owners tell.
		others, lerr := e.otherOwners(ctx, c)
		switch {
		case lerr != nil:
			return fmt.Errorf("Google kept this owner (%s), and the space's owners could not be read to tell why (%v): either they are in the space through a Google Group, or they are its last joined owner: %w", apiErr.Message, lerr, err)
		case others == 0:
			return fmt.Errorf("Google kept this owner (%s): the space has no other joined owner now; make someone else owner, and the next run removes them: %w", apiErr.Message, err)
		}
		skip(c, "Google kept this member ("+apiErr.Message+"); another owner remains, so they are in the space through a Google Group: they leave with the group, or when removed from it")
		c.GoogleKept = true
	case errors.Is(err, chatapi.ErrPermanent) && errors.As(err, &apiErr) && apiErr.Status == "FAILED_PRECONDITION":
		// Google keeps the member: someone in the space through a Google
		// Group can't be removed directly. Not a failure of this run; the
		// report says why.
		skip(c, "Google kept this member ("+apiErr.Message+"); a member through a Google Group leaves with the group, or when removed from it")
		c.GoogleKept = true
	default:
		return err
	}
	return nil
}
