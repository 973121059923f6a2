// Package rules turns Directory rules (a group's members, an organisational
// unit, a query, a group named by email) into plain desired members, in one
// stage between loading the sources and planning. Each distinct rule is
// asked once per run, however many spaces use it, paged at the largest page
// size under the Directory's pace. Every expanded member keeps where it came
// from (rules.yaml:12 (group_members eng@example.com)), so the plan stays a
// pure function of desired members and never learns a Directory exists.
//
// A rule that finds nobody is an error unless marked allow_empty (with
// policy sync it would otherwise remove everyone), and a rule whose lookup
// fails fails the run before any write: it never counts as "nobody".
package rules

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/throttle"
)

// Directory is what expanding rules needs from the Admin SDK.
type Directory interface {
	Group(ctx context.Context, key string) (id, email string, err error)
	GroupMembersPage(ctx context.Context, key string, nested bool, pageToken string) ([]chatapi.GroupMember, string, error)
	UsersPage(ctx context.Context, query, pageToken string) ([]chatapi.DirectoryUser, string, error)
}

var _ Directory = (*chatapi.Directory)(nil)

// Expander expands rules.
type Expander struct {
	Directory   Directory
	Throttle    *throttle.Throttle // the Directory's pace
	Concurrency int                // rules expanded at once

	groupsMu sync.Mutex
	groups   map[membership.Principal]*groupPeople
}

// Expansion is what a run's rules came to.
type Expansion struct {
	Desired membership.Desired
	// Known are the people the rules named: email → users/{id}, so no
	// lookup is spent on them again.
	Known map[string]membership.Principal
	// OrgUsers are the addresses of Known that users.list named (org_unit
	// and query rules): the organisation's users. A group_members rule's
	// people are not among them: a group may hold people outside it.
	OrgUsers map[string]bool
	// Calls counts the Directory calls made.
	Calls int
	// Warnings say what a rule left out that its owner may not expect
	// (the groups in a group, with nested: false).
	Warnings []string
	// Suspended are, by space, the people a rule there names who are
	// suspended or archived: not added, and (unless remove_suspended)
	// not removed either, with the rule that names them.
	Suspended map[string]map[membership.Principal]Held
}

// Held is a person a rule names who is suspended or archived.
type Held struct {
	Rule string // the first rule naming them, with where it is written
	// Archived: archived and not suspended (remove_suspended does not
	// remove them).
	Archived bool
}

// Error is a rule that failed or found nobody, with where it is written.
type Error struct {
	Rule membership.Rule
	Err  error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s: %v", e.Rule.Source, e.Rule.Describe(), e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// HoldsEveryone reports whether err is GroupPeople's for a group holding
// everyone in the domain: not listed person by person, yet it holds every
// one of the organisation's users.
func HoldsEveryone(err error) bool { return errors.Is(err, errWholeDomain) }

// errWholeDomain is a group holding everyone in the domain.
var errWholeDomain = errors.New("the group holds everyone in the domain (a member of type CUSTOMER), whom a rule can't list person by person; for everyone, use org_unit: / instead, or name the group itself (group:) so Chat keeps its members in step")

// ErrEmpty marks a rule that found nobody.
var ErrEmpty = errors.New("the Directory returned nobody; if that is right, mark the rule allow_empty: true")

// found is one distinct rule's answer.
type found struct {
	people []person
	// suspended are the people it names who are suspended or archived.
	suspended []person
	group     membership.Principal // for RuleGroup
	// returned counts what the Directory listed, and groups the groups
	// among it, for saying why a rule came to nobody.
	returned, groups int
	// domain counts members that stand for everyone in the domain
	// (type CUSTOMER): a group holding one can't be listed person by
	// person.
	domain int
	// orgUsers: its people are the Directory's users (users.list), the
	// organisation's; a group's members may be outside it.
	orgUsers bool
}

// emptyError is ErrEmpty with what the Directory did return.
type emptyError struct {
	r     membership.Rule
	found found
}

func (e *emptyError) Error() string {
	if e.found.returned == 0 {
		return ErrEmpty.Error()
	}
	why := "suspended or archived users"
	switch {
	case e.r.Kind == membership.RuleGroupMembers && e.found.groups > 0 && !e.r.Nested:
		why = fmt.Sprintf("%d groups (nested: true takes their members), suspended or archived users", e.found.groups)
	case e.r.Kind == membership.RuleOrgUnit && !e.r.IncludeChildren:
		why = "users of the units below it (include_children: false), suspended or archived users"
	}
	return fmt.Sprintf("the Directory returned %d, none of whom can be a member (%s); if that is right, mark the rule allow_empty: true", e.found.returned, why)
}

func (e *emptyError) Is(target error) bool { return target == ErrEmpty }

type person struct {
	email string
	id    membership.Principal
	// archived: archived, not suspended (for found.suspended).
	archived bool
}

// Expand returns the desired state with every rule turned into members.
// It fails, naming every rule at fault, when any lookup fails or finds
// nobody where nobody is not allowed.
func (e *Expander) Expand(ctx context.Context, d membership.Desired) (Expansion, error) {
	distinct := map[string]membership.Rule{}
	var order []string
	for _, s := range d.Spaces {
		for _, r := range s.Rules {
			if _, ok := distinct[r.Key()]; !ok {
				distinct[r.Key()] = r
				order = append(order, r.Key())
			}
		}
	}
	out := Expansion{Desired: d, Known: map[string]membership.Principal{}, OrgUsers: map[string]bool{}}
	if len(order) == 0 {
		return out, nil
	}
	answers := make(map[string]found, len(order))
	failed := map[string]error{}
	var (
		mu    sync.Mutex
		errs  []*Error
		calls int
	)
	g := errgroup.Group{}
	g.SetLimit(max(1, e.Concurrency))
	for _, key := range order {
		r := distinct[key]
		g.Go(func() error {
			f, n, err := e.expand(ctx, r)
			mu.Lock()
			defer mu.Unlock()
			calls += n
			if err != nil {
				failed[key] = err
				return nil
			}
			answers[key] = f
			return nil
		})
	}
	g.Wait()
	out.Calls = calls
	// Each use of a rule that failed is named, and an empty answer is
	// judged per use: one space may allow it, another not.
	warned := map[string]bool{}
	for _, s := range d.Spaces {
		for _, r := range s.Rules {
			if err, ok := failed[r.Key()]; ok {
				errs = append(errs, &Error{Rule: r, Err: err})
			}
			f, ok := answers[r.Key()]
			switch {
			case !ok:
			case f.domain > 0:
				// Everyone in the domain, left out, would make everyone
				// not listed otherwise unwanted (under sync, removed).
				errs = append(errs, &Error{Rule: r, Err: errWholeDomain})
			case !r.AllowEmpty && r.Kind != membership.RuleGroup && len(f.people) == 0:
				errs = append(errs, &Error{Rule: r, Err: &emptyError{r: r, found: f}})
			case f.groups > 0 && !r.Nested && !warned[r.Key()]:
				warned[r.Key()] = true
				out.Warnings = append(out.Warnings, fmt.Sprintf("%s: %s: %d groups in it were left out (nested: false); their members are wanted only with nested: true",
					r.Source, r.Describe(), f.groups))
			}
			if clause, who := leavesOut(r); clause != "" && !warned["leaves|"+r.Key()] {
				warned["leaves|"+r.Key()] = true
				out.Warnings = append(out.Warnings, fmt.Sprintf("%s: %s: %s leaves %s users out of the answer, so the rule names none of them: where they are members, policy sync removes them as named by no source, whatever remove_suspended says; drop it (a rule adds no suspended or archived people anyway)",
					r.Source, r.Describe(), clause, who))
			}
		}
	}
	if len(errs) > 0 {
		// In the order they are written; one failed rule used twice is
		// named at each use.
		slices.SortFunc(errs, func(a, b *Error) int {
			return cmp.Or(cmp.Compare(a.Rule.Source.File, b.Rule.Source.File), cmp.Compare(a.Rule.Source.Line, b.Rule.Source.Line), cmp.Compare(a.Error(), b.Error()))
		})
		errs = slices.CompactFunc(errs, func(a, b *Error) bool { return a.Error() == b.Error() })
		joined := make([]error, len(errs))
		for i, e := range errs {
			joined[i] = e
		}
		return out, errors.Join(joined...)
	}
	out.Desired = merge(d, answers)
	out.Suspended = suspendedBySpace(d, answers)
	for _, f := range answers {
		for _, p := range f.people {
			out.Known[p.email] = p.id
			if f.orgUsers {
				out.OrgUsers[p.email] = true
			}
		}
	}
	return out, nil
}

// leavesOut finds, in a query rule, a clause that leaves suspended or
// archived users out of the answer (isSuspended=false, isArchived=false),
// and who it leaves out. The rule holds the suspended and archived people
// it names where they are members; those a query leaves out it can't.
func leavesOut(r membership.Rule) (clause, who string) {
	if r.Kind != membership.RuleQuery {
		return "", ""
	}
	for _, c := range strings.Fields(r.Value) {
		// The value may be quoted, as any clause's: isSuspended='false'.
		field, value, _ := strings.Cut(c, "=")
		if len(value) >= 2 && (value[0] == '\'' || value[0] == '"') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		switch {
		case !strings.EqualFold(value, "false"):
		case strings.EqualFold(field, "isSuspended"):
			return c, "suspended"
		case strings.EqualFold(field, "isArchived"):
			return c, "archived"
		}
	}
	return "", ""
}

// expand asks the Directory what one rule names, and how many calls it took.
func (e *Expander) expand(ctx context.Context, r membership.Rule) (found, int, error) {
	switch r.Kind {
	case membership.RuleGroup:
		var id string
		err := e.Throttle.Directory(ctx, "directory.groups.get", func(ctx context.Context) (err error) {
			id, _, err = e.Directory.Group(ctx, r.Value)
			return err
		})
		if errors.Is(err, chatapi.ErrNotFound) {
			return found{}, 1, fmt.Errorf("no such group in the Directory")
		}
		if err == nil && id == "" {
			return found{}, 1, fmt.Errorf("the Directory answered without the group's ID")
		}
		return found{group: membership.Group(id)}, 1, err
	case membership.RuleGroupMembers:
		return e.groupMembers(ctx, r, false)
	case membership.RuleOrgUnit:
		// "Escape single quotes in queries with \'" (Search for users).
		// Suspended users come too: not added, they are kept where they
		// are members (remove_suspended decides).
		query := fmt.Sprintf("orgUnitPath='%s'", strings.ReplaceAll(r.Value, "'", `\'`))
		f, n, err := e.users(ctx, query, func(u chatapi.DirectoryUser) bool {
			return r.IncludeChildren || strings.EqualFold(u.OrgUnitPath, r.Value)
		})
		return f, n, err
	case membership.RuleQuery:
		return e.users(ctx, r.Value, func(chatapi.DirectoryUser) bool { return true })
	}
	return found{}, 0, fmt.Errorf("unknown rule %q", r.Kind)
}

// groupMembers pages a group's members (200 a page), keeping people who
// are neither suspended nor archived (unless suspendedToo); with nested,
// the members of the groups in it come too.
func (e *Expander) groupMembers(ctx context.Context, r membership.Rule, suspendedToo bool) (found, int, error) {
	var f found
	token, calls := "", 0
	seen := map[string]bool{}
	guard := chatapi.PageGuard{What: "the members of " + r.Value}
	for {
		var (
			page []chatapi.GroupMember
			next string
		)
		calls++
		err := e.Throttle.Directory(ctx, "directory.members.list", func(ctx context.Context) (err error) {
			page, next, err = e.Directory.GroupMembersPage(ctx, r.Value, r.Nested, token)
			return err
		})
		if errors.Is(err, chatapi.ErrNotFound) {
			return found{}, calls, fmt.Errorf("no such group in the Directory")
		}
		if err != nil {
			return found{}, calls, err
		}
		for _, m := range page {
			f.returned++
			switch m.Type {
			case "GROUP":
				f.groups++
			case "CUSTOMER":
				f.domain++
			}
			status := strings.ToUpper(m.Status)
			switch m.Type {
			case "GROUP", "CUSTOMER":
				continue // counted above
			case "USER":
			default:
				// Google documents a type on every member (USER, GROUP,
				// CUSTOMER): one without, left out as a group, may be a
				// person the rule names, whom policy sync would remove.
				return found{}, calls, fmt.Errorf("the Directory listed member %s (users/%s) of no known type (%q)", m.Email, m.ID, m.Type)
			}
			if m.ID == "" {
				// Google lists every member with its ID; without one, two
				// people would be taken for one, and neither matched.
				return found{}, calls, fmt.Errorf("the Directory listed member %s without an ID", m.Email)
			}
			if m.Email == "" {
				// And with an address: a person left out is one the rule
				// names, whom policy sync would remove as wanted by no source.
				return found{}, calls, fmt.Errorf("the Directory listed member users/%s without an address", m.ID)
			}
			if seen[m.ID] {
				continue // repeats via nesting
			}
			seen[m.ID] = true
			p := person{email: strings.ToLower(m.Email), id: membership.User(m.ID)}
			if !suspendedToo && (status == "SUSPENDED" || status == "ARCHIVED") {
				p.archived = status == "ARCHIVED"
				f.suspended = append(f.suspended, p)
				continue
			}
			f.people = append(f.people, p)
		}
		if err := guard.Next(len(page), next); err != nil {
			return found{}, calls, err
		}
		if next == "" {
			return f, calls, nil
		}
		token = next
	}
}

// users pages a users.list query (500 a page), keeping people who are
// neither suspended nor archived and whom keep accepts.
func (e *Expander) users(ctx context.Context, query string, keep func(chatapi.DirectoryUser) bool) (found, int, error) {
	f := found{orgUsers: true}
	token, calls := "", 0
	guard := chatapi.PageGuard{What: "the users matching " + query}
	for {
		var (
			page []chatapi.DirectoryUser
			next string
		)
		calls++
		err := e.Throttle.Directory(ctx, "directory.users.list", func(ctx context.Context) (err error) {
			page, next, err = e.Directory.UsersPage(ctx, query, token)
			return err
		})
		if err != nil {
			return found{}, calls, err
		}
		for _, u := range page {
			f.returned++
			if u.ID == "" {
				return found{}, calls, fmt.Errorf("the Directory listed user %s without an ID", u.PrimaryEmail)
			}
			if u.PrimaryEmail == "" {
				// Taken as users/ (nobody's address), the person the rule
				// names would match no member, and policy sync would
				// remove them.
				return found{}, calls, fmt.Errorf("the Directory listed user users/%s without an address", u.ID)
			}
			switch p := (person{email: strings.ToLower(u.PrimaryEmail), id: membership.User(u.ID)}); {
			case !keep(u):
			case u.Suspended || u.Archived:
				p.archived = !u.Suspended
				f.suspended = append(f.suspended, p)
			default:
				f.people = append(f.people, p)
			}
		}
		if err := guard.Next(len(page), next); err != nil {
			return found{}, calls, err
		}
		if next == "" {
			return f, calls, nil
		}
		token = next
	}
}

// GroupPeople is who is in a group, nested groups included, by canonical
// users/{id}: policy sync never removes a member who is in a space through
// a group the sources want there (Google keeps them anyway). Each group is
// asked once per run.
func (e *Expander) GroupPeople(ctx context.Context, group membership.Principal) (map[membership.Principal]bool, error) {
	e.groupsMu.Lock()
	if e.groups == nil {
		e.groups = map[membership.Principal]*groupPeople{}
	}
	g := e.groups[group]
	if g == nil {
		g = &groupPeople{done: make(chan struct{})}
		e.groups[group] = g
		go func() {
			defer close(g.done)
			f, _, err := e.groupMembers(ctx, membership.Rule{Kind: membership.RuleGroupMembers, Value: group.ID(), Nested: true}, true)
			switch {
			case err != nil:
				g.err = err
				return
			case f.domain > 0:
				// Anyone in the domain may be in the space through it.
				g.err = errWholeDomain
				return
			}
			g.people = make(map[membership.Principal]bool, len(f.people))
			for _, p := range f.people {
				g.people[p.id] = true
			}
		}()
	}
	e.groupsMu.Unlock()
	select {
	case <-g.done:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	return g.people, g.err
}

type groupPeople struct {
	done   chan struct{}
	people map[membership.Principal]bool
	err    error
}

// suspendedBySpace is, for each space with rules naming suspended or
// archived people, who they are and the first rule naming each.
func suspendedBySpace(d membership.Desired, answers map[string]found) map[string]map[membership.Principal]Held {
	var out map[string]map[membership.Principal]Held
	for _, s := range d.Spaces {
		for _, r := range s.Rules {
			for _, p := range answers[r.Key()].suspended {
				if out == nil {
					out = map[string]map[membership.Principal]Held{}
				}
				if out[s.Name] == nil {
					out[s.Name] = map[membership.Principal]Held{}
				}
				if _, ok := out[s.Name][p.id]; !ok {
					out[s.Name][p.id] = Held{Rule: fmt.Sprintf("%s (%s)", r.Describe(), r.Source), Archived: p.archived}
				}
			}
		}
	}
	return out
}
