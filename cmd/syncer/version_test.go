package main

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestDescribeBuild(t *testing.T) {
	const hash = "0123456789abcdef0123456789abcdef01234567"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: hash}, {Key: "vcs.modified", Value: modified}}
	}
	for _, c := range []struct {
		name            string
		version, commit string
		bi              *debug.BuildInfo
		want            buildDescription
	}{
		{"stamped by make release", "v0.1.0", hash,
			&debug.BuildInfo{Main: debug.Module{Path: "github.com/syncer-dev/syncer", Version: "(devel)"}},
			buildDescription{Version: "v0.1.0", Commit: hash}},
		{"stamped wins over what Go recorded", "v0.1.0", hash,
			&debug.BuildInfo{Main: debug.Module{Version: "v0.0.9"}, Settings: vcs("true")},
			buildDescription{Version: "v0.1.0", Commit: hash}},
		{"go install module@version", "", "",
			&debug.BuildInfo{Main: debug.Module{Path: "github.com/syncer-dev/syncer", Version: "v0.1.0", Sum: "h1:abc="}},
			buildDescription{Version: "v0.1.0", Module: "github.com/syncer-dev/syncer@v0.1.0 h1:abc="}},
		{"go build in a clean checkout", "", "",
			&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("false")},
			buildDescription{Version: "devel", Commit: hash}},
		{"go build with uncommitted changes", "", "",
			&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("true")},
			buildDescription{Version: "devel", Commit: hash + "-dirty"}},
		{"nothing known", "", "", nil, buildDescription{Version: "devel"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.want.Go = "go1.99 plan9/mips"
			if got := describeBuild(c.version, c.commit, c.bi, "go1.99 plan9/mips"); got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
	unknown := buildDescription{Version: "devel", Go: "go1.99 plan9/mips"}.String()
	if want := "syncer devel\ncommit: unknown\ngo: go1.99 plan9/mips\n"; unknown != want {
		t.Errorf("String() = %q, want %q", unknown, want)
	}
}

func TestVersionCommand(t *testing.T) {
	code, stdout, stderr := runCLI(t, "version")
	if code != exitOK || !strings.HasPrefix(stdout, "syncer "+versionString()+"\n") || !strings.Contains(stdout, "\ngo: "+runtime.Version()) {
		t.Errorf("version: exit %d, %q %q", code, stdout, stderr)
	}
	if code, _, stderr := runCLI(t, "version", "extra"); code != exitInvalid || !strings.Contains(stderr, "unexpected arguments") {
		t.Errorf("version extra: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, "version", "--help"); code != exitOK || !strings.Contains(stderr, "Usage: syncer version") {
		t.Errorf("version --help: exit %d, %q", code, stderr)
	}
}
