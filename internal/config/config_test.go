package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestExampleParses(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
	want := Defaults()
	if !reflect.DeepEqual(cfg.Limits, want.Limits) || cfg.Policy != want.Policy || cfg.API != want.API || cfg.Report != want.Report || !reflect.DeepEqual(cfg.Identity, want.Identity) ||
		cfg.Safety != want.Safety || cfg.RemoveSuspended != want.RemoveSuspended || len(cfg.Protect) != 0 {
		t.Errorf("the example's values drifted from the defaults it documents:\n got %+v\nwant %+v", cfg, want)
	}
	if len(cfg.Sources) != 2 || cfg.Sources[0].Path != filepath.Join("..", "..", "testdata", "members.yaml") {
		t.Errorf("sources not resolved against the config's folder: %+v", cfg.Sources)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"unknown top key", "sources: [{path: a.csv}]\npolcy: upsert\n", `c.yaml:2: unknown key "polcy"`},
		{"unknown nested key", "sources: [{path: a.csv}]\nlimits:\n  concurency: 3\n", `c.yaml:3: unknown key "concurency"`},
		{"unknown source key", "sources:\n  - path: a.csv\n    colums: {}\n", `c.yaml:3: unknown key "colums"`},
		{"no sources", "policy: upsert\n", `no sources`},
		{"bad policy", "sources: [{path: a.csv}]\npolicy: mirror\n", `c.yaml:2: unknown policy "mirror"`},
		{"a limit of lots", "sources: [{path: a.csv}]\nsafety:\n  max_removals: lots\n", `c.yaml:3: safety.max_removals: "lots" is not a limit`},
		{"a negative limit", "sources: [{path: a.csv}]\nsafety:\n  max_removals: -1\n", `c.yaml:3: safety.max_removals: "-1" is not a limit`},
		{"a percent over 100", "sources: [{path: a.csv}]\nsafety:\n  max_removal_percent: 150\n", `c.yaml:3: safety.max_removal_percent is 150`},
		{"a grace of nonsense", "sources: [{path: a.csv}]\nsafety:\n  removal_grace: soon\n", `c.yaml:3: safety.removal_grace: "soon" is neither`},
		{"a bad protect pattern", "sources: [{path: a.csv}]\nprotect: [\"*@\", \"a*@x.com\", \"bob\"]\n", `protect: "*@": a domain pattern`},
		{"no state location", "sources: [{path: a.csv}]\nstate: {location: \"\"}\n", `c.yaml:2: state.location is empty`},
		{"a bucket name in capitals", "sources: [{path: a.csv}]\nstate:\n  location: gs://My_Bucket/x\n", `c.yaml:3: state.location "gs://My_Bucket/x": "My_Bucket" is not a bucket name`},
		{"a URL that is not gs://", "sources: [{path: a.csv}]\nstate:\n  location: https://storage.googleapis.com/syncer-state/p\n", `c.yaml:3: state.location "https://storage.googleapis.com/syncer-state/p": state is kept in a local folder or in Cloud Storage as gs://BUCKET/PREFIX; "https" locations are not supported`},
		{"gs in capitals", "sources: [{path: a.csv}]\nstate:\n  location: GS://syncer-state/p\n", `c.yaml:3: state.location "GS://syncer-state/p": a Cloud Storage location is written gs://BUCKET/PREFIX`},
		{"a cache file beside Cloud Storage state", "sources: [{path: a.csv}]\nidentity: {cache_file: ids.json}\nstate: {location: \"gs://b-1/p\"}\n", `c.yaml:2: identity.cache_file is a local file, and state.location is in Cloud Storage`},
		{"max_age of nothing", "sources: [{path: a.csv}]\nplan: {max_age: 0s}\n", `c.yaml:2: plan.max_age must be positive`},
		{"bad endpoint", "sources: [{path: a.csv}]\napi:\n  endpoint: chat.googleapis.com\n", `c.yaml:3: api.endpoint`},
		{"bad auth", "sources: [{path: a.csv}]\nauth:\n  mode: magic\n", `c.yaml:3: unknown auth.mode "magic"`},
		{"negative concurrency", "sources: [{path: a.csv}]\nlimits:\n  concurrency: -1\n", `c.yaml:3: limits.concurrency is -1`},
		{"a quota window of nothing", "sources: [{path: a.csv}]\nlimits:\n  headroom: 0.9\n  quota_window: 0s\n", `c.yaml:4: limits.quota_window is 0s`},
		{"negative held memberships", "sources: [{path: a.csv}]\nlimits:\n  held_memberships: -1\n", `c.yaml:3: limits.held_memberships is -1`},
		{"bad output", "sources: [{path: a.csv}]\nreport:\n  output: pdf\n", `c.yaml:3: unknown report.output "pdf"`},
		{"wrong type", "sources: [{path: a.csv}]\nlimits:\n  concurrency: lots\n", `c.yaml:3: limits.concurrency: "lots" is not a whole number`},
		{"syntax", "sources: [\n", `c.yaml:1: invalid YAML`},
		{"a NUL in a value", "sources: [{path: a.csv}]\nprotect: [ann@exam\x00ple.com]\n", `c.yaml:2:19: control character U+0000`},
		{"invalid UTF-8", "sources: [{path: a.csv}]\n# caf\xe9\n", `c.yaml:2: invalid UTF-8`},
		{"bad schedule", "sources: [{path: a.csv}]\nschedule: \"61 * * * *\"\n", `c.yaml:2: schedule "61 * * * *"`},
		{"a schedule of no interval", "sources: [{path: a.csv}]\nschedule: \"@every 0s\"\n", `c.yaml:2: schedule "@every 0s": the interval must be whole seconds, at least 1s`},
		{"a negative interval", "sources: [{path: a.csv}]\nschedule: \"@every -1h\"\n", `c.yaml:2: schedule "@every -1h": the interval must be whole seconds, at least 1s`},
		{"a sub-second interval", "sources: [{path: a.csv}]\nschedule: \"@every 1500ms\"\n", `c.yaml:2: schedule "@every 1500ms": the interval must be whole seconds`},
		{"a date that never comes", "sources: [{path: a.csv}]\nschedule: \"0 6 30 2 *\"\n", `c.yaml:2: schedule "0 6 30 2 *": it never fires`},
		{"a time zone and no schedule", "sources: [{path: a.csv}]\nschedule: \"CRON_TZ=Europe/Paris\"\n", `c.yaml:2: schedule "CRON_TZ=Europe/Paris": a time zone needs the schedule after it`},
		{"a TZ= and no schedule", "sources: [{path: a.csv}]\nschedule: \"TZ=UTC\"\n", `c.yaml:2: schedule "TZ=UTC": a time zone needs the schedule after it`},
		{"a time zone, a tab and a schedule", "sources: [{path: a.csv}]\nschedule: \"TZ=UTC\\t@hourly\"\n", `c.yaml:2: schedule "TZ=UTC\t@hourly": a time zone needs the schedule after it`},
		{"service account without key", "sources: [{path: a.csv}]\nauth:\n  mode: service-account\n", `c.yaml:3: auth.mode service-account needs auth.credentials_file`},
		{"app with subject", "sources: [{path: a.csv}]\nauth:\n  mode: app\n  credentials_file: k.json\n  subject: a@example.com\n", `c.yaml:5: auth.mode app acts as the Chat app`},
		{"oauth-user without token file", "sources: [{path: a.csv}]\nauth:\n  mode: oauth-user\n  credentials_file: c.json\n", `c.yaml:3: auth.mode oauth-user needs`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestScheduleSpecs(t *testing.T) {
	for _, spec := range []string{"*/15 * * * *", "0 */5 * * * *", "CRON_TZ=Europe/Paris 0 6 * * 1-5", "@hourly", "@every 90s", "CRON_TZ=UTC @every 1h", "0 0 29 2 *"} {
		if _, err := Parse("c.yaml", []byte("sources: [{path: a.csv}]\nschedule: \""+spec+"\"\n")); err != nil {
			t.Errorf("%q: %v", spec, err)
		}
	}
}

// Across a daylight-saving change serve runs as robfig/cron computes, which
// README states: a time the change skips does not run that day, a time it
// repeats runs twice. A change of library that changes this must change
// README too.
func TestScheduleAcrossDaylightSaving(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip(err)
	}
	s, err := ParseSchedule("CRON_TZ=Europe/Paris 30 2 * * *")
	if err != nil {
		t.Fatal(err)
	}
	// Clocks go forward at 02:00 on 2026-03-29: no 02:30 that day.
	if next := s.Next(time.Date(2026, 3, 28, 12, 0, 0, 0, paris)); next.Day() != 30 {
		t.Errorf("after 28 March, next run %v; README says 29 March's is skipped", next)
	}
	// Clocks go back at 03:00 on 2026-10-25: 02:30 comes twice, and runs twice.
	first := s.Next(time.Date(2026, 10, 24, 12, 0, 0, 0, paris))
	second := s.Next(first)
	if first.Day() != 25 || second.Sub(first) != time.Hour {
		t.Errorf("runs on 25 October at %v and %v; README says twice, an hour apart", first, second)
	}
}

func TestParseDefaultsAndPaths(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(p, []byte("sources: [{path: a.csv}, {path: /abs/b.yaml}]\napi:\n  endpoint: http://127.0.0.1:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sources[0].Path != filepath.Join(dir, "a.csv") || cfg.Sources[1].Path != "/abs/b.yaml" {
		t.Errorf("paths %+v", cfg.Sources)
	}
	if cfg.API.Endpoint != "http://127.0.0.1:1/" || cfg.IsGoogleEndpoint() {
		t.Errorf("endpoint %q (google=%v)", cfg.API.Endpoint, cfg.IsGoogleEndpoint())
	}
	if cfg.Limits.ProjectWritesPerMinute != 300 || cfg.Limits.SpaceReadsPerSecond != 15 || cfg.Policy != PolicyUpsert {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if d := Defaults(); !d.IsGoogleEndpoint() {
		t.Error("the default endpoint is not Google's")
	}
}

func TestCallsInFlight(t *testing.T) {
	for _, tc := range []struct {
		l    Limits
		want int
	}{
		{Defaults().Limits, 13}, // 3,000 reads/min: 50/s × 0.25 s
		{Limits{ProjectWritesPerMinute: 300, ProjectReadsPerMinute: 600}, 8},                  // floor
		{Limits{ProjectWritesPerMinute: 30000, ProjectReadsPerMinute: 3000}, 125},             // 500 writes/s
		{Limits{ProjectWritesPerMinute: 30000, ProjectReadsPerMinute: 300000}, 256},           // cap
		{Limits{ProjectWritesPerMinute: 300, ProjectReadsPerMinute: 3000, Concurrency: 3}, 3}, // set by hand
	} {
		if got := tc.l.CallsInFlight(); got != tc.want {
			t.Errorf("%+v: %d, want %d", tc.l, got, tc.want)
		}
	}
}

func TestRemovalSettings(t *testing.T) {
	cfg, err := Parse(filepath.Join("/cfg", "c.yaml"), []byte(`sources: [{path: a.csv}]
policy: sync
protect: [boss@example.com, "*@partner.com", groups/eng, "110423456789", users/77]
remove_suspended: true
safety:
  max_removals: unlimited
  max_removal_percent: 0
  removal_grace: 72h
state: {location: state}
`))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Safety
	if cfg.Policy != PolicySync || !s.MaxRemovals.Unlimited || s.MaxRemovals.Allows(1e9) != true || s.MaxRemovalPercent.Allows(1) ||
		!s.MaxRemovalPercent.Allows(0) || s.MaxSourceShrinkPercent != (Limit{N: 20}) || s.RemovalGrace.Duration != 72*time.Hour ||
		cfg.State.Location != filepath.Join("/cfg", "state") || len(cfg.Protect) != 5 || !cfg.RemoveSuspended {
		t.Errorf("settings %+v %+v", cfg, s)
	}
	d := Defaults().Safety
	if d.MaxRemovals != (Limit{N: 10}) || d.MaxRemovalPercent != (Limit{N: 20}) || !d.RemovalGrace.None() {
		t.Errorf("defaults %+v", d)
	}
	runs, _ := Parse("c.yaml", []byte("sources: [{path: a.csv}]\nsafety: {removal_grace: 3}\n"))
	if runs.Safety.RemovalGrace != (Grace{Runs: 3}) || runs.Safety.RemovalGrace.None() {
		t.Errorf("grace 3: %+v", runs.Safety.RemovalGrace)
	}
}

func TestCloudStorageLocationIsNotAPath(t *testing.T) {
	cfg, err := Parse("/etc/syncer/c.yaml", []byte("sources: [{path: a.csv}]\nstate: {location: \"gs://syncer-state/prod\"}\n"))
	if err != nil || cfg.State.Location != "gs://syncer-state/prod" || !cfg.State.InCloudStorage() {
		t.Errorf("%v %q", err, cfg.State.Location)
	}
}

// A protect entry no address can match protects nobody, silently: it is
// refused as a source would refuse the address.
func TestProtectRefusesEntriesThatMatchNobody(t *testing.T) {
	for _, p := range []string{"judy@example.com.", "judy@example", "judy@@example.com", "judy @example.com", `"judy@example.com"`, "users/", "users/judy@example"} {
		if _, err := Parse("c.yaml", []byte("sources: [{path: a.csv}]\nprotect: ['"+p+"']\n")); err == nil {
			t.Errorf("protect %q accepted", p)
		}
	}
	for _, p := range []string{"Judy@Example.com", "users/judy@example.com", "users/110423456789", "110423456789", "groups/03b2mn", "*@partner.com", "*@Mail.Partner-1.co.uk"} {
		if _, err := Parse("c.yaml", []byte("sources: [{path: a.csv}]\nprotect: ['"+p+"']\n")); err != nil {
			t.Errorf("protect %q refused: %v", p, err)
		}
	}
}

// A domain pattern or group ID no member can have protects nobody: under
// sync a mistyped *@partner.com. let a partner be removed. Each is refused
// as a source would refuse the address's domain or the group ID, at the
// config's file and line, by its value.
func TestProtectRefusesPatternsThatMatchNobody(t *testing.T) {
	for _, p := range []string{"*@partner.com.", "*@.example.com", "*@example..com", "*@example.com,", "*@''example.com''", "*@example.com>",
		"*@-example.com", "*@example", "*@ex ample.com", "*@exämple.com", "groups/03b2mn?", "groups/eng.example.com", "groups/eng@example.com", "groups/a/b", "groups/"} {
		t.Run(p, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte("sources: [{path: a.csv}]\npolicy: sync\nprotect: [boss@example.com, '"+p+"']\n"))
			want := "c.yaml:3: protect: " + strconv.Quote(strings.ReplaceAll(p, "''", "'"))
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v, want %s", err, want)
			}
		})
	}
}

// A second document in a config (after ---) would be dropped without a
// word; it is refused at its line.
func TestAConfigIsOneDocument(t *testing.T) {
	_, err := Parse("c.yaml", []byte("sources: [{path: a.csv}]\npolicy: sync\n---\nprotect: [judy@example.com]\n"))
	if err == nil || !strings.Contains(err.Error(), "c.yaml:3: a second YAML document") {
		t.Errorf("err = %v", err)
	}
	if _, err := Parse("c.yaml", []byte("sources: [{path: a.csv}]\n---\n")); err != nil {
		t.Errorf("a trailing ---: %v", err)
	}
	if _, err := Parse("c.yaml", []byte("sources: [{path: a.csv}]\n---\n---\nprotect: [judy@example.com]\n")); err == nil || !strings.Contains(err.Error(), "a second YAML document") {
		t.Errorf("a third document after an empty second: %v", err)
	}
}

// A config saved as UTF-16 with its byte-order mark (Notepad's "Unicode")
// is read; the check for control characters leaves it to yaml.v3.
func TestAUTF16ConfigWithItsBOMIsRead(t *testing.T) {
	text := "sources: [{path: a.csv}]\npolicy: sync\n"
	data := []byte{0xff, 0xfe}
	for _, r := range text {
		data = append(data, byte(r), 0)
	}
	cfg, err := Parse("c.yaml", data)
	if err != nil || cfg.Policy != "sync" {
		t.Fatalf("%v", err)
	}
}

// yaml.v3 quotes a value it can't decode as it is written, between
// backticks: an escape the file spells ("\e") would act on the terminal
// that shows the problem.
func TestTypeErrorsShowControlsAsText(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte("sources: [{path: a.yaml}]\nlimits:\n  concurrency: \"\\e[2J\\r\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || strings.ContainsAny(err.Error(), "\x1b\r") || !strings.Contains(err.Error(), `\x1b[2J\r`) {
		t.Errorf("%q", err)
	}
}
