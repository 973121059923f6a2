package main

// What a run may write: its flags' files checked before any call, and
// never one the run reads (the config, a source, a key, the state).

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/fsutil"
	"github.com/syncer-dev/syncer/internal/history"
	"github.com/syncer-dev/syncer/internal/job"
	"github.com/syncer-dev/syncer/internal/scrub"
	"github.com/syncer-dev/syncer/internal/state"
)

// checkRunFlags finds, before any call, what would otherwise fail after the
// writes: a report file in a folder that doesn't exist, a bad push URL.
func checkRunFlags(f runFlags) error {
	if f.allowRemovals < -1 {
		// -1 is the flag's default: no consent given.
		return fmt.Errorf("--allow-removals %d: give the number of removals you read in the plan and accept (0 or more)", f.allowRemovals)
	}
	if f.output != "" && !slices.Contains(config.Outputs, f.output) {
		return fmt.Errorf("unknown --output %q (want text, markdown, json or html)", f.output)
	}
	if f.reportFile != "" {
		dir := filepath.Dir(f.reportFile)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return fmt.Errorf("--report-file %s: the folder %s does not exist", f.reportFile, dir)
		}
		if st, err := os.Stat(f.reportFile); err == nil && !st.Mode().IsRegular() {
			return fmt.Errorf("--report-file %s is not a regular file", f.reportFile)
		}
	}
	if f.planOut != "" {
		if st, err := os.Stat(filepath.Dir(f.planOut)); err != nil || !st.IsDir() {
			return fmt.Errorf("--out %s: the folder %s does not exist", f.planOut, filepath.Dir(f.planOut))
		}
		if st, err := os.Stat(f.planOut); err == nil && !st.Mode().IsRegular() {
			return fmt.Errorf("--out %s is not a regular file", f.planOut)
		}
	}
	if f.pushgateway != "" {
		if u, err := url.Parse(f.pushgateway); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--pushgateway %q is not an http(s) URL", scrub.URL(f.pushgateway))
		}
	}
	return overwritesInput(f)
}

// reportFileSound says whether a command line checkRunFlags refused may
// still have its --report-file written: the file is in a folder that
// exists, is a regular file or none, and is none of the run's inputs,
// state documents or other outputs (the refusal may be about it).
func reportFileSound(f runFlags) bool {
	if f.reportFile == "" {
		return false
	}
	if checkRunFlags(runFlags{config: f.config, planFile: f.planFile, reportFile: f.reportFile}) != nil {
		return false
	}
	for _, other := range []string{f.lockFile, f.planOut} {
		if other != "" && samePath(other, f.reportFile) {
			return false
		}
	}
	return true
}

// overwritesInput refuses a file the run writes (the lock, the report,
// the saved plan) that is one it reads: --lock-file config.yaml replaced
// the config with the lock's line before it was read, --report-file hr.csv
// a source with the report. The config is read here for the files it names;
// if it can't be, the run says why, and only the config itself is compared.
func overwritesInput(f runFlags) error {
	inputs := []string{f.config, f.planFile}
	var kept []string // the state folder's documents, there or not yet: the run writes them
	if cfg, err := config.Load(f.config); err == nil {
		for _, s := range cfg.Sources {
			inputs = append(inputs, s.Path)
		}
		inputs = append(inputs, cfg.Auth.CredentialsFile, cfg.Auth.TokenFile, cfg.Identity.CacheFile)
		kept = stateDocuments(cfg)
	} else {
		// A config that can't be loaded says nothing for sure: every word
		// of its text may name a file the run reads (a source, a key) or
		// the state folder, as may the default folder. A report a failed
		// run writes must not land on one.
		named := namedIn(f.config)
		inputs = append(inputs, named...)
		for _, dir := range append(named, filepath.Join(filepath.Dir(f.config), "syncer-state")) {
			for _, doc := range []string{job.RemovalsState, identityCache, history.Index, state.WriteLockName} {
				kept = append(kept, filepath.Join(dir, doc))
			}
		}
	}
	outs := []struct{ flag, path string }{{"--lock-file", f.lockFile}, {"--report-file", f.reportFile}, {"--out", f.planOut}}
	for i, out := range outs {
		for _, other := range outs[i+1:] {
			if out.path != "" && other.path != "" && samePath(out.path, other.path) {
				return fmt.Errorf("%s and %s are both %s: one would overwrite the other", out.flag, other.flag, out.path)
			}
		}
	}
	for _, out := range outs {
		for _, doc := range kept {
			if out.path != "" && samePath(out.path, doc) {
				return fmt.Errorf("%s %s would overwrite %s, a file of the state folder's", out.flag, out.path, doc)
			}
		}
		st, err := os.Stat(out.path)
		if out.path == "" || err != nil {
			continue // a file that does not exist yet is no input
		}
		for _, in := range inputs {
			if in == "" {
				continue
			}
			if ist, err := os.Stat(in); err == nil && os.SameFile(st, ist) {
				return fmt.Errorf("%s %s would overwrite %s, which the run reads", out.flag, out.path, in)
			}
		}
	}
	return nil
}

// namedIn is every word of a config's text (split at spaces and YAML's
// punctuation) as a path relative to its folder: what it may name when it
// can't be loaded. A name with spaces in it ("HR export.csv") is one path,
// so every value between YAML's punctuation, a key's ": " and a list's
// "- " is taken whole too.
func namedIn(configPath string) []string {
	data, err := fsutil.ReadFile(configPath, 1<<20)
	if err != nil {
		return nil
	}
	dir := filepath.Dir(configPath)
	text := string(data)
	words := strings.FieldsFunc(text, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(`[]{},:"'#`, r)
	})
	for _, piece := range strings.FieldsFunc(text, func(r rune) bool {
		return r == '\n' || r == '\r' || strings.ContainsRune(`[]{},"'#`, r)
	}) {
		for _, v := range strings.Split(piece, ": ") {
			v = strings.TrimSpace(v)
			for strings.HasPrefix(v, "- ") {
				v = strings.TrimSpace(v[2:])
			}
			v = strings.TrimSpace(strings.TrimSuffix(v, ":"))
			if strings.ContainsFunc(v, unicode.IsSpace) {
				words = append(words, v)
			}
		}
	}
	var out []string
	for _, w := range words {
		if !filepath.IsAbs(w) {
			w = filepath.Join(dir, w)
		}
		out = append(out, w)
	}
	return out
}

// stateDocuments are the files a local state folder carries from run to
// run, there or not yet: the removals state (the rails' totals and
// grace), the identity cache, the run history; and the lock its writers
// take (an apply holding it as its own lock waited for itself at every
// write); and an identity.cache_file kept elsewhere.
func stateDocuments(cfg *config.Config) []string {
	if cfg.State.InCloudStorage() {
		return nil
	}
	var docs []string
	if cfg.Identity.CacheFile != "" {
		docs = append(docs, cfg.Identity.CacheFile)
	}
	for _, doc := range []string{job.RemovalsState, identityCache, history.Index, state.WriteLockName} {
		docs = append(docs, filepath.Join(cfg.State.Location, doc))
	}
	return docs
}

// samePath: a and b name one file, there already or not (then compared
// by their absolute paths, their folders' links followed).
func samePath(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(sa, sb)
	}
	ra, rb := resolvedPath(a), resolvedPath(b)
	return ra != "" && ra == rb
}

// resolvedPath is p's absolute path, the links to its folder followed
// (a state.location given as a link): "" if it has none.
func resolvedPath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return ""
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		return filepath.Join(dir, filepath.Base(abs))
	}
	return abs
}
