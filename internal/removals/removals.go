// Package removals decides which planned removals happen. It holds the
// safety rails of policy sync, as pure functions: plan, previous state and
// settings in, a verdict with its reasons out. It never calls the network
// and never writes; the job saves the next state it returns.
//
//   - GuardLastOwners, per space at plan time under any policy, never
//     removes or demotes a space's last joined owner, unless a promotion
//     in the plan hands the space over first.
//   - Screen, per space at plan time, keeps in place who must never be
//     removed: anyone protect matches, the user the syncer acts as, and
//     members it can't identify with certainty.
//   - Decide, on the whole plan before the first write, holds removals the
//     grace period covers and blocks the run (no write of any kind) past a
//     limit, when a source shrank, or on the first run with sync (for the
//     state, or for a space), unless --allow-removals says how many
//     removals the admin has read and accepts.
package removals

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/membership"
)

// Protect matches the config's protect entries.
type Protect struct {
	emails  map[string]bool
	domains map[string]bool
	ids     map[membership.Principal]bool
}

// NewProtect compiles protect entries (already checked by config).
func NewProtect(entries []string) Protect {
	p := Protect{emails: map[string]bool{}, domains: map[string]bool{}, ids: map[membership.Principal]bool{}}
	for _, e := range entries {
		s := strings.ToLower(strings.TrimSpace(e))
		switch {
		case strings.HasPrefix(s, "*@"):
			p.domains[s[2:]] = true
		case strings.HasPrefix(s, "groups/"):
			p.ids[membership.Principal(s)] = true
		case strings.HasPrefix(s, "users/") && strings.Contains(s, "@"):
			p.emails[strings.TrimPrefix(s, "users/")] = true
		case strings.HasPrefix(s, "users/"):
			p.ids[membership.Principal(s)] = true
		case strings.Contains(s, "@"):
			p.emails[s] = true
		default:
			p.ids[membership.User(s)] = true
		}
	}
	return p
}

// Emails are the exact addresses protect names, to be resolved to IDs: a
// member listed under another of their addresses is still protected.
func (p Protect) Emails() []string {
	out := make([]string, 0, len(p.emails))
	for e := range p.emails {
		out = append(out, e)
	}
	sort.Strings(out)
	return out
}

// needsEmails reports whether matching needs a member's email.
func (p Protect) needsEmails() bool { return len(p.emails) > 0 || len(p.domains) > 0 }

// Matches reports whether a member (by principal and, when known, its
// addresses) is protected, and by which entry.
func (p Protect) Matches(principal membership.Principal, emails []string) (string, bool) {
	if p.ids[principal] {
		return string(principal), true
	}
	for _, e := range emails {
		if p.emails[e] {
			return e, true
		}
		if _, d, ok := strings.Cut(e, "@"); ok && p.domains[d] {
			return "*@" + d, true
		}
	}
	return "", false
}

// Acting is who the syncer acts as: never removed.
type Acting struct {
	Email string
	ID    membership.Principal // "" when it could not be resolved
}

// ScreenInput is what Screen knows about one space.
type ScreenInput struct {
	Protect Protect
	// ProtectIDs are the members protect names by address, by their
	// canonical IDs (as the Directory or the space answered), with the entry.
	ProtectIDs map[membership.Principal]string
	Acting     Acting
	// Wanted are the addresses the sources want in this space: a removal
	// candidate found to have one of them is the same person under a stale
	// identity, never removed.
	Wanted map[string]bool
	// Stale is told each wanted address found on a removal candidate: the
	// identity the run used for it is out of date.
	Stale func(email string)
	// ViaGroup are the people of the groups the sources want in this space,
	// with the group: they are in the space through it.
	ViaGroup map[membership.Principal]string
	// GroupHolds are groups to remove that stay, with why: Google removes
	// a group's people with it, and the sources want some of them here.
	GroupHolds map[membership.Principal]string
	// ViaHeld are people to remove who are in a group GroupHolds keeps,
	// with the group: in the space through it, they leave with it.
	ViaHeld map[membership.Principal]membership.Principal
	// RuleSuspended are the people a Directory rule here names who are
	// suspended or archived (rules add no such people), with why they
	// stay: the rule still names them, so they are not removed as "in no
	// source" (remove_suspended decides whether suspension removes).
	RuleSuspended map[membership.Principal]string
	// Unsure says why this space can't tell who some members are (a
	// lookup of the acting user or a protected address failed): then no
	// one there is removed.
	Unsure string
	// Unresolved are the space's desired emails whose lookups failed: any
	// member might be one of them.
	Unresolved map[string]string
	// Emails are the addresses (primary first, then aliases) the
	// Directory gave for members to remove, by ID.
	Emails map[membership.Principal][]string
	// SameAs are members the space named as an address the sources want
	// there, which the run's identity (from the cache) had matched to
	// someone else: the same person, never removed.
	SameAs map[membership.Principal]string
	// Unknown are members to remove whose Directory lookup failed, with
	// why: who they are (listed without an email) or their aliases are
	// unknown. Kept when nothing else names them, or when Cached: then
	// they may be someone the sources want under an out-of-date identity.
	Unknown map[membership.Principal]error
	// Cached: an address the sources want here was matched from the
	// identity cache this run, not by the list or the Directory.
	Cached bool
}

// Screen moves out of a space's plan the removals that must not happen,
// into its Protected list with why.
func Screen(sp *diff.SpacePlan, in ScreenInput) {
	kept := sp.Changes[:0]
	unknown, space := 0, ""
	var why1 error
	for _, c := range sp.Changes {
		if c.Action != diff.Delete {
			kept = append(kept, c)
			continue
		}
		if why := keepReason(c, in); why != "" {
			sp.Protected = append(sp.Protected, diff.Kept{Space: c.Space, Member: c.Member, Membership: c.Membership, Why: why, Reason: c.Reason})
			if err, ok := in.Unknown[c.Principal]; ok && why == unknownWhy(err) {
				unknown, space, why1 = unknown+1, c.Space, err
			}
			continue
		}
		kept = append(kept, c)
	}
	sp.Changes = kept
	if unknown > 0 {
		who := fmt.Sprintf("%d members to remove", unknown)
		if unknown == 1 {
			who = "a member to remove"
		}
		sp.Incomplete = append(sp.Incomplete, fmt.Sprintf("%s: %s could not be looked up in the Directory (%v); not removed this run", space, who, why1))
	}
}

// WouldRemove reports whether Screen would leave a removal in the plan as
// in stands (it calls nothing back).
func WouldRemove(sp diff.SpacePlan, in ScreenInput) bool {
	return slices.ContainsFunc(sp.Changes, func(c diff.Change) bool { return c.Action == diff.Delete && !Keeps(c, in) })
}

// Keeps reports whether Screen would keep removal c as in stands (it
// calls nothing back).
func Keeps(c diff.Change, in ScreenInput) bool {
	in.Stale = nil
	return keepReason(c, in) != ""
}

func keepReason(c diff.Change, in ScreenInput) string {
	emails := in.Emails[c.Principal]
	if e := c.Principal.Email(); e != "" {
		emails = append([]string{e}, emails...)
	} else if c.Member != string(c.Principal) && strings.Contains(c.Member, "@") {
		emails = append([]string{c.Member}, emails...) // the email the list showed
	}
	known := len(emails) > 0 || c.Principal.IsGroup()
	for _, e := range emails {
		if in.Wanted[e] && c.Reason == diff.ReasonAbsent {
			if in.Stale != nil {
				in.Stale(e)
			}
			return fmt.Sprintf("the sources want %s, and this is %s: the address was matched to someone else (an out-of-date identity); checked again next run", e, e)
		}
	}
	if e, ok := in.SameAs[c.Principal]; ok {
		if in.Stale != nil {
			in.Stale(e)
		}
		return fmt.Sprintf("the sources want %s, and the space says this is %s: the identity cache matched the address to someone else (out of date); checked again next run", e, e)
	}
	if by, ok := in.ProtectIDs[c.Principal]; ok {
		return "protected by " + by
	}
	if why, ok := in.RuleSuspended[c.Principal]; ok && c.Reason == diff.ReasonAbsent {
		return why
	}
	if why, ok := in.GroupHolds[c.Principal]; ok {
		return why
	}
	if g, ok := in.ViaHeld[c.Principal]; ok {
		return fmt.Sprintf("in %s, which stays (see its line): Google keeps a group's members in the space, and they leave with it, or when removed from it", g)
	}
	if g, ok := in.ViaGroup[c.Principal]; ok {
		return fmt.Sprintf("in the space through %s, which the sources want here (Google keeps a group's members; remove them from the group)", g)
	}
	switch {
	case in.Unsure != "":
		return in.Unsure
	case len(in.Unresolved) > 0 && c.Reason == diff.ReasonAbsent:
		return fmt.Sprintf("an address the sources name could not be resolved (%s), and it may be this member", firstKey(in.Unresolved))
	case in.Acting.ID != "" && c.Principal == in.Acting.ID:
		return "the user the syncer acts as"
	case in.Acting.Email != "" && contains(emails, in.Acting.Email):
		return "the user the syncer acts as"
	case !known && in.Acting.Email != "" && in.Acting.ID == "":
		return "can't tell who this is, and the user the syncer acts as could not be resolved"
	}
	if err, ok := in.Unknown[c.Principal]; ok && (!known || in.Cached) {
		return unknownWhy(err)
	}
	if by, ok := in.Protect.Matches(c.Principal, emails); ok {
		return "protected by " + by
	}
	if !known && in.Protect.needsEmails() {
		return "can't tell who this is (no email known), so protect can't be checked"
	}
	return ""
}

// unknownWhy says why a member whose Directory lookup failed is kept.
func unknownWhy(err error) string {
	return fmt.Sprintf("can't tell who this is: the Directory could not be asked (%v), and it may be someone the sources want; checked again next run", err)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func firstKey(m map[string]string) string {
	first := ""
	for k := range m {
		if first == "" || k < first {
			first = k
		}
	}
	if len(m) > 1 {
		return fmt.Sprintf("%s and %d more", first, len(m)-1)
	}
	return first
}

// Settings are the config's rails and the run's consent.
type Settings struct {
	MaxRemovals, MaxRemovalPercent, MaxSourceShrinkPercent config.Limit
	Grace                                                  config.Grace
	// Allow is --allow-removals: up to this many removals this run, past
	// every rail; -1 when not given.
	Allow int
	// Sync is set when any space's policy is sync.
	Sync bool
	// Repeats are the rows each source repeated this run, left out of its
	// total: a state saved when totals counted rows is compared with the
	// rows.
	Repeats map[string]int
	// Files are this run's sources (by their keys in the totals) as
	// absolute paths, recorded with their totals.
	Files map[string]string
	// Foreign are this run's sources whose last total was counted from
	// another file (still on this machine, saying something else), with
	// that file's path: no shrink check can compare them, and the run
	// stops saying so.
	Foreign map[string]string
}

// Foreign names this run's sources (keys of totals) whose total in prev
// was counted from another file: two configs sharing a state location
// whose sources share a name relative to their folders. other reports
// whether the file a total was counted from is here and says something
// else than mine: a file that is not here (another machine) or says the
// same (another checkout of the same repository) is taken for mine.
func Foreign(prev *State, totals map[string]int, files map[string]string, other func(theirs, mine string) bool) map[string]string {
	if prev == nil {
		return nil
	}
	out := map[string]string{}
	for path := range totals {
		if from, mine := prev.CountedFrom[path], files[path]; from != "" && mine != "" && from != mine && other(from, mine) {
			out[path] = from
		}
	}
	return out
}

// SettingsOf reads the rails from a config.
func SettingsOf(cfg *config.Config, allow int, sync bool) Settings {
	s := cfg.Safety
	return Settings{MaxRemovals: s.MaxRemovals, MaxRemovalPercent: s.MaxRemovalPercent, MaxSourceShrinkPercent: s.MaxSourceShrinkPercent,
		Grace: s.RemovalGrace, Allow: allow, Sync: sync}
}
