package main

// Releases: what `syncer version` says, the release build (scripts/release.sh and
// scripts/gobuild.sh) for this machine's target built twice, and the versions the
// recipes pin. `make release-check` builds every target twice, from empty caches.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// makeVar is a variable the Makefile sets with :=.
func makeVar(t *testing.T, name string) string {
	t.Helper()
	mk, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + name + `\s*:=[ \t]*(.+?)[ \t]*$`).FindSubmatch(mk)
	if m == nil {
		t.Fatalf("Makefile sets no %s", name)
	}
	return string(m[1])
}

// changelogVersion is a version's heading, its date after it: "## [v0.1.0] - 2026-12-04".
var changelogVersion = regexp.MustCompile(`(?m)^## \[(v[0-9][^\]]*)\](.*)$`)

// newestRelease is CHANGELOG.md's newest version, as scripts/changelog-version.sh reads it.
func newestRelease(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "CHANGELOG.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := changelogVersion.FindSubmatch(data)
	if m == nil {
		t.Fatal("CHANGELOG.md has no '## [vX.Y.Z] - YYYY-MM-DD' entry")
	}
	return string(m[1])
}

// releaseAssets are the files a release of version publishes for targets (os/arch).
func releaseAssets(version string, targets []string) []string {
	assets := []string{"syncer_" + version + "_SHA256SUMS"}
	for _, target := range targets {
		name := "syncer_" + version + "_" + strings.Replace(target, "/", "_", 1)
		exe := name
		if strings.HasPrefix(target, "windows/") {
			exe += ".exe"
		}
		assets = append(assets, exe, name+".cdx.json")
	}
	slices.Sort(assets)
	return assets
}

func TestChangelog(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "CHANGELOG.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	if !strings.Contains(doc, "\n## [Unreleased]\n") {
		t.Error("CHANGELOG.md: no '## [Unreleased]' section for what the next version brings")
	}
	semver := regexp.MustCompile(`^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$`)
	date := regexp.MustCompile(`^ - \d{4}-\d{2}-\d{2}$`)
	var prev []int
	entries := changelogVersion.FindAllStringSubmatchIndex(doc, -1)
	if len(entries) == 0 {
		t.Fatal("CHANGELOG.md lists no version")
	}
	for i, e := range entries {
		v, d := doc[e[2]:e[3]], doc[e[4]:e[5]]
		m := semver.FindStringSubmatch(v)
		if m == nil || !date.MatchString(d) {
			t.Errorf("CHANGELOG.md: %q is not '## [vMAJOR.MINOR.PATCH] - YYYY-MM-DD'", "## ["+v+"]"+d)
			continue
		}
		cur := []int{atoi(m[1]), atoi(m[2]), atoi(m[3])}
		if prev != nil && slices.Compare(cur, prev) >= 0 {
			t.Errorf("CHANGELOG.md: %s comes after a lower version: newest first", v)
		}
		prev = cur
		end := len(doc)
		if i+1 < len(entries) {
			end = entries[i+1][0]
		}
		if !strings.Contains(doc[e[1]:end], "\n- ") {
			t.Errorf("CHANGELOG.md: %s lists nothing it brings", v)
		}
		if !strings.Contains(doc, "\n["+v+"]: https://") {
			t.Errorf("CHANGELOG.md: no link for [%s]", v)
		}
	}
	out, err := exec.Command("sh", filepath.Join(repoRoot, "scripts", "changelog-version.sh")).Output()
	if got := strings.TrimSpace(string(out)); err != nil || got != newestRelease(t) {
		t.Errorf("scripts/changelog-version.sh says %q (%v), want %s", got, err, newestRelease(t))
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// TestModuleInstallable checks, cheaply, what would break `go install
// github.com/syncer-dev/syncer/cmd/syncer@latest` (make install-check tries it from
// a clean module cache): replace and exclude directives, which go install refuses,
// and a go directive newer than the release's toolchain. It also keeps the
// Dockerfile's Go image on the release's toolchain.
func TestModuleInstallable(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^\s*(replace|exclude)\b.*$`).Find(mod); m != nil {
		t.Errorf("go.mod: %q: go install module@version refuses a module whose go.mod has replace or exclude directives", m)
	}
	goLine := regexp.MustCompile(`(?m)^go (\d+(?:\.\d+)*)\s*$`).FindSubmatch(mod)
	releaseGo := makeVar(t, "RELEASE_GO")
	if goLine == nil || !regexp.MustCompile(`^go\d+\.\d+\.\d+$`).MatchString(releaseGo) {
		t.Fatalf("go.mod's go directive %q, Makefile's RELEASE_GO %q", goLine, releaseGo)
	}
	if versionLess(strings.TrimPrefix(releaseGo, "go"), string(goLine[1])) {
		t.Errorf("go.mod says go %s, newer than the release toolchain %s", goLine[1], releaseGo)
	}
	df, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	from := regexp.MustCompile(`(?m)^FROM (?:--platform=\S+ )?golang:(\S+?)(?:@sha256:\w+)?(?: AS \w+)?\s*$`).FindSubmatch(df)
	if from == nil {
		t.Error("the Dockerfile's build stage is not FROM golang:VERSION")
	} else if "go"+string(from[1]) != releaseGo {
		t.Errorf("the Dockerfile builds with golang:%s, not the release toolchain %s: the image's binary would differ from the release's", from[1], releaseGo)
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "cmd", "syncer", "main.go")); err != nil {
		t.Errorf("go install .../cmd/syncer needs the main package in cmd/syncer: %v", err)
	}
}

func versionLess(a, b string) bool {
	var x, y []int
	for _, p := range strings.Split(a, ".") {
		x = append(x, atoi(p))
	}
	for _, p := range strings.Split(b, ".") {
		y = append(y, atoi(p))
	}
	return slices.Compare(x, y) < 0
}

// TestReleaseBuild runs scripts/release.sh for this machine's target twice: here,
// then from a copy of the tree elsewhere with Go settings in the environment that
// would change the binary if they leaked in. The two must be byte-identical; the
// binary must print the version and commit it was stamped with; the checksums and
// the SBOM must describe the files. (The build cache is shared: make release-check
// also compiles from nothing, for every target.)
func TestReleaseBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release binary twice")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	target := runtime.GOOS + "/" + runtime.GOARCH
	if !slices.Contains(strings.Fields(makeVar(t, "RELEASE_TARGETS")), target) {
		t.Skipf("%s is not a release target", target)
	}
	version := newestRelease(t)
	const commit = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00" // not HEAD: the stamp comes from COMMIT
	root, _ := filepath.Abs(repoRoot)
	dir := t.TempDir()
	release := func(tree, out string, extraEnv ...string) {
		t.Helper()
		cmd := exec.Command(bash, filepath.Join(tree, "scripts", "release.sh"))
		cmd.Env = append(os.Environ(), "RELEASE_GO=local", "RELEASE_TARGETS="+target, "CYCLONEDX="+makeVar(t, "CYCLONEDX"),
			"VERSION="+version, "COMMIT="+commit, "RELEASE_CHECKS=0", "OUT="+out)
		cmd.Env = append(cmd.Env, extraEnv...)
		if log, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, log)
		}
	}
	release(root, filepath.Join(dir, "a"))
	copyTree(t, root, filepath.Join(dir, "src"))
	release(filepath.Join(dir, "src"), filepath.Join(dir, "b"),
		"GOFLAGS=-buildvcs=true -tags=leak", "GOAMD64=v3", "GOARM64=v8.5", "CGO_ENABLED=1", "TZ=Pacific/Kiritimati")

	files := func(d string) map[string][]byte {
		entries, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string][]byte{}
		for _, e := range entries {
			m[e.Name()], _ = os.ReadFile(filepath.Join(d, e.Name()))
		}
		return m
	}
	a, b := files(filepath.Join(dir, "a")), files(filepath.Join(dir, "b"))
	var names []string
	for name := range a {
		names = append(names, name)
		if !bytes.Equal(a[name], b[name]) {
			t.Errorf("%s differs between the two builds", name)
		}
	}
	slices.Sort(names)
	if want := releaseAssets(version, []string{target}); !slices.Equal(names, want) || len(a) != len(b) {
		t.Fatalf("release files %v (then %d), want %v", names, len(b), want)
	}

	// The binary says what it was stamped with.
	name := "syncer_" + version + "_" + strings.Replace(target, "/", "_", 1)
	exe := name
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	out, err := exec.Command(filepath.Join(dir, "a", exe), "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "syncer " + version + "\ncommit: " + commit + "\ngo: " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if string(out) != want {
		t.Errorf("syncer version printed\n%s\nwant\n%s", out, want)
	}

	// The checksums file lists every other file with its SHA-256, in byte order.
	var wantSums strings.Builder
	for _, n := range names {
		if !strings.HasSuffix(n, "_SHA256SUMS") {
			sum := sha256.Sum256(a[n])
			wantSums.WriteString(hex.EncodeToString(sum[:]) + "  " + n + "\n")
		}
	}
	if got := string(a["syncer_"+version+"_SHA256SUMS"]); got != wantSums.String() {
		t.Errorf("SHA256SUMS:\n%s\nwant\n%s", got, wantSums.String())
	}

	// The SBOM describes this binary, with no timestamp and a stable serial number.
	var bom struct {
		BOMFormat    string `json:"bomFormat"`
		SerialNumber string `json:"serialNumber"`
		Metadata     struct {
			Timestamp string                       `json:"timestamp"`
			Tools     []map[string]json.RawMessage `json:"tools"`
			Component struct {
				Name, Version string
			} `json:"component"`
			Properties []struct{ Name, Value string } `json:"properties"`
		} `json:"metadata"`
		Components []struct{ Name, Version string } `json:"components"`
	}
	if err := json.Unmarshal(a[name+".cdx.json"], &bom); err != nil {
		t.Fatal(err)
	}
	binarySum := sha256.Sum256(a[exe])
	hasProperty := func(name, value string) bool {
		return slices.Contains(bom.Metadata.Properties, struct{ Name, Value string }{name, value})
	}
	if bom.BOMFormat != "CycloneDX" || bom.Metadata.Component.Name != "github.com/syncer-dev/syncer" || bom.Metadata.Component.Version != version ||
		!hasProperty("cdx:gomod:binary:hash:SHA-256", hex.EncodeToString(binarySum[:])) {
		t.Errorf("the SBOM doesn't describe %s %s (sha256 %x): %+v", exe, version, binarySum, bom.Metadata)
	}
	if bom.Metadata.Timestamp != "" || !regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(bom.SerialNumber) {
		t.Errorf("SBOM timestamp %q, serial %q: want none and a derived version-5 UUID", bom.Metadata.Timestamp, bom.SerialNumber)
	}
	for _, tool := range bom.Metadata.Tools {
		if _, ok := tool["hashes"]; ok {
			t.Error("the SBOM holds the hashes of the tool's own executable, which differ from one build host to another")
		}
	}
	deps := map[string]string{}
	for _, c := range bom.Components {
		deps[c.Name] = c.Version
	}
	if deps["std"] != runtime.Version() || deps["gopkg.in/yaml.v3"] == "" {
		t.Errorf("the SBOM's components miss Go (std %q) or a dependency (gopkg.in/yaml.v3 %q)", deps["std"], deps["gopkg.in/yaml.v3"])
	}
}

// copyTree copies what a release build reads (not .git, testdata, bin or dist).
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		switch {
		case d.Name() == ".git" || (d.IsDir() && (d.Name() == "testdata" || rel == "bin" || rel == "dist")):
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		case d.IsDir():
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		case !d.Type().IsRegular():
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		return os.WriteFile(filepath.Join(to, rel), data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}
