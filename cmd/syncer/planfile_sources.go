package main

// Whether a saved plan's removals still stand against the sources as they
// are now: apply --plan applies what was reviewed, unless the sources of
// a space it removes people from have moved since.

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/planfile"
	"github.com/syncer-dev/syncer/internal/source"
)

// sourcesMoved names the spaces where the plan removes someone and the
// sources, as they are now, say something else of the space than when
// the plan was made (two pull requests merged in turn: a removal nobody
// reviewed against them). Plans made before the digest was recorded are
// checked person by person (wantedAgain). Sources that are all gone (the
// plan applied where its sources are not kept) are not asked: the plan
// applies what was reviewed, and unchecked says so for the report; a
// source that is there but can't be read stops the plan.
func sourcesMoved(cfg *config.Config, pf *planfile.File, log *slog.Logger) (moved []string, unchecked string) {
	removes := map[string]bool{}
	for _, c := range pf.Plan.Changes {
		if c.Action == diff.Delete && c.Status == "" {
			removes[c.Space] = true
		}
	}
	if len(removes) == 0 {
		return nil, ""
	}
	desired, err := source.Load(cfg.Sources)
	if err != nil {
		if slices.ContainsFunc(cfg.Sources, sourceThere) {
			// A source here that says something unreadable (a broken
			// edit, a half-written export) may also take someone back.
			return []string{fmt.Sprintf("the sources can't be read now (%s), and the plan removes people: whether the sources still want them gone can't be told; fix the sources, or make a new plan", firstProblem(err))}, ""
		}
		return nil, sourcesUnchecked(log, err)
	}
	again := wantedAgain(desired, pf.Plan) // who, where it can be told
	if !slices.ContainsFunc(pf.Spaces, func(sp planfile.Space) bool { return sp.Desired != "" }) {
		return again, "" // a plan made before digests: person by person
	}
	now := map[string]string{}
	for _, ds := range desired.Spaces {
		now[ds.Name] = planfile.DesiredDigest(ds)
	}
	var out []string
	for _, sp := range pf.Spaces {
		if !removes[sp.Name] || sp.Desired == "" || now[sp.Name] == sp.Desired {
			continue
		}
		named := false
		for _, line := range again {
			if strings.HasPrefix(line, sp.Name+":") {
				out, named = append(out, line), true
			}
		}
		if !named {
			out = append(out, fmt.Sprintf("%s: the sources say something else of this space than when the plan was made, and the plan removes people there; make a new plan", sp.Name))
		}
	}
	return out, ""
}

// sourceThere reports whether a source's file is there, read or not:
// only a path with nothing at it is gone. A link to a file that is gone,
// a link that can't be followed and a file in a folder the run may not
// search are there, and can't be read.
func sourceThere(s source.Spec) bool {
	_, err := os.Lstat(s.Path)
	return !errors.Is(err, fs.ErrNotExist)
}

// sourcesUnchecked logs, and words for the report, that the sources could
// not be read, so a plan's removals were not checked against them.
func sourcesUnchecked(log *slog.Logger, err error) string {
	log.Warn("the sources can't be read now, so the plan's removals are not checked against them", "error", err.Error())
	return "the sources can't be read now (" + err.Error() + "), so the plan's removals were not checked against them"
}

// wantedAgain names the removals in plan of people the sources, as they
// are now (desired), want in that space: added back since the plan was
// made (two pull requests merged in turn), a removal is no longer what
// anyone reviewed. Directory rules are not expanded.
func wantedAgain(desired membership.Desired, plan diff.Plan) []string {
	wanted := map[string]map[membership.Principal]bool{}
	for _, s := range desired.Spaces {
		w := map[membership.Principal]bool{}
		for _, m := range s.Members {
			w[m.Principal] = true
		}
		wanted[s.Name] = w
	}
	var out []string
	for _, c := range plan.Changes {
		w := wanted[c.Space]
		if c.Action != diff.Delete || c.Reason == diff.ReasonSuspended || w == nil {
			continue // a suspended member's removal: the sources named them then too
		}
		if w[c.Principal] || w[membership.User(strings.ToLower(c.Member))] || c.ID != "" && w[c.ID] {
			out = append(out, fmt.Sprintf("%s: the sources want %s there again since the plan was made; make a new plan", c.Space, c.Member))
		}
	}
	return out
}
