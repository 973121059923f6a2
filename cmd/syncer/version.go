package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version and commit are stamped by scripts/gobuild.sh (make build, make release and the
// Dockerfile all build through it): -ldflags "-X main.version=v1.2.3 -X main.commit=<hash>".
// A binary built another way falls back on what Go recorded in it (describeBuild).
var (
	version = ""
	commit  = ""
)

// buildDescription is what `syncer version` prints.
type buildDescription struct {
	Version string // v1.2.3, a git describe string, or "devel"
	Commit  string // the full commit hash ("-dirty" when built from uncommitted changes); "" unknown
	Module  string // "path@version h1:sum" when go install fetched the module from a proxy
	Go      string // the toolchain and target: "go1.26.8 linux/amd64"
}

func (d buildDescription) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "syncer %s\n", d.Version)
	if d.Commit != "" {
		fmt.Fprintf(&b, "commit: %s\n", d.Commit)
	} else {
		b.WriteString("commit: unknown\n")
	}
	if d.Module != "" {
		fmt.Fprintf(&b, "module: %s\n", d.Module)
	}
	fmt.Fprintf(&b, "go: %s\n", d.Go)
	return b.String()
}

// describeBuild is the stamped version and commit, else what bi recorded: the
// module's version and checksum (go install module@version) or the VCS
// revision (go build in a checkout). bi may be nil.
func describeBuild(stampedVersion, stampedCommit string, bi *debug.BuildInfo, goTarget string) buildDescription {
	d := buildDescription{Version: stampedVersion, Commit: stampedCommit, Go: goTarget}
	if bi == nil {
		bi = &debug.BuildInfo{}
	}
	if d.Version == "" {
		d.Version = "devel"
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			d.Version = v
		}
	}
	if d.Commit == "" {
		settings := map[string]string{}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
		if d.Commit = settings["vcs.revision"]; d.Commit != "" && settings["vcs.modified"] == "true" {
			d.Commit += "-dirty"
		}
	}
	if bi.Main.Sum != "" {
		d.Module = bi.Main.Path + "@" + bi.Main.Version + " " + bi.Main.Sum
	}
	return d
}

func currentBuild() buildDescription {
	bi, _ := debug.ReadBuildInfo()
	return describeBuild(version, commit, bi, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH)
}

// versionString is the version alone, for the User-Agent and saved plans.
func versionString() string { return currentBuild().Version }

func versionCommand() command {
	return command{
		name:    "version",
		summary: "print the version and the commit it was built from",
		usage: `Usage: syncer version

Prints the version, the commit it was built from (a release's, stamped by
make release), the module checksum when go install fetched it from a module
proxy, and the Go toolchain and platform. --version is the same.`,
		run: runVersion,
	}
}

func runVersion(_ context.Context, out cmdIO, args []string) int {
	fs := newFlags(versionCommand(), out)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fmt.Fprint(out.stdout, currentBuild())
	return exitOK
}
