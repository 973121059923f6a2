// Package config loads and checks the syncer's configuration file. Unknown
// keys and bad values are errors that name the file and line; paths inside
// the file are taken relative to it. It never reads the sources themselves.
package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/syncer-dev/syncer/internal/fsutil"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/printable"
	"github.com/syncer-dev/syncer/internal/scrub"
	"github.com/syncer-dev/syncer/internal/source"
	"github.com/syncer-dev/syncer/internal/state"
)

// Load reads and checks a config file. Problems come back as source.Errors.
func Load(path string) (*Config, error) {
	data, err := fsutil.ReadFile(path, 1<<20) // 1 MiB: a config is a few KB; a FIFO or device must not hang the run
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, source.Errors{{At: membership.Location{File: path}, Msg: "can't read config: " + err.Error()}}
	}
	return Parse(path, data)
}

// Parse checks config text read from path.
func Parse(path string, data []byte) (*Config, error) {
	cfg := Defaults()
	cfg.Path = path
	var errs source.Errors
	at := func(line int) membership.Location { return membership.Location{File: path, Line: line} }

	bom16 := bytes.HasPrefix(data, []byte{0xff, 0xfe}) || bytes.HasPrefix(data, []byte{0xfe, 0xff}) // yaml.v3 reads UTF-16 with its BOM
	if line, column, msg := source.YAMLTextProblem(data); msg != "" && !bom16 {
		// yaml.v3 says so with no line.
		return nil, source.Errors{{At: membership.Location{File: path, Line: line, Column: column}, Msg: msg}}
	}
	// Syntax first: a file that does not parse says nothing else.
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&cfg.root); err != nil && err != io.EOF { // an empty file takes every default
		line, text := source.YAMLSyntaxError(data, err)
		return nil, source.Errors{{At: at(line), Msg: "invalid YAML: " + text}}
	}
	// A second document (after ---) would be dropped without a word: a
	// protect list, say, that protects nobody.
	if line, err := source.NextDocument(dec); err != nil {
		line, text := source.YAMLSyntaxError(data, err)
		return nil, source.Errors{{At: at(line), Msg: "invalid YAML: " + text}}
	} else if line > 0 {
		return nil, source.Errors{{At: at(line), Msg: "a second YAML document (after ---): a config is one document; merge the two"}}
	}
	// Unknown keys, keys written twice, and values of the wrong type: every
	// one is listed, and the rest still decoded (a key written twice keeps
	// its first value, a value refused keeps its default) so the checks
	// below run on what did decode, and one problem hides none.
	// (yaml.v3's KnownFields stops at a key written twice, leaving the whole
	// mapping around it undecoded and unchecked.)
	refused := checkKeys(&cfg.root, reflect.TypeOf(cfg), func(line int, format string, args ...any) { errs.Add(at(line), format, args...) })
	if cfg.root.Kind != 0 { // an empty file takes every default
		if err := cfg.root.Decode(&cfg); err != nil {
			var te *yaml.TypeError
			if !errors.As(err, &te) {
				line, text := splitYAMLError(err.Error())
				return nil, source.Errors{{At: at(line), Msg: "invalid YAML: " + text}}
			}
			for _, msg := range te.Errors {
				// yaml.v3 quotes the value as written, between backticks.
				line, text := splitYAMLError(msg)
				errs.Add(at(line), "%s", printable.Text(text))
			}
		}
	}
	line := func(keys ...string) int { return lineOf(&cfg.root, keys...) }

	dir := filepath.Dir(path)
	// An entry that did not decode (a bare string) is reported above and
	// is not in cfg.Sources: the others are named by their place as
	// written, and found at their line.
	sources := valueOf(&cfg.root, "sources")
	written := writtenEntries(sources, len(cfg.Sources), yaml.MappingNode)
	for j := range cfg.Sources {
		s := &cfg.Sources[j]
		i, entryLine := j, func(string) int { return line("sources") }
		var entry *yaml.Node
		if written != nil {
			i, entry = written[j], sources.Content[written[j]]
			entryLine = func(key string) int { // the key's, or the entry's
				if l := lineOf(entry, key); l > 0 {
					return l
				}
				return entry.Line
			}
		}
		if strings.TrimSpace(s.Path) == "" {
			if p := valueOf(entry, "path"); p == nil || (p.Kind == yaml.ScalarNode && !refused[p]) { // else why is reported above
				errs.Add(at(entryLine("path")), "sources[%d] has no path", i)
			}
			continue
		}
		if why := unexpanded(s.Path); why != "" && !there(relativeTo(dir, s.Path)) {
			errs.Add(at(entryLine("path")), "sources[%d].path %q: %s", i, s.Path, why)
		}
		s.Path = relativeTo(dir, s.Path)
		// The source file can't say where its format was set: the config can.
		if f := strings.ToLower(strings.TrimSpace(s.Format)); f != "" && f != "yaml" && f != "csv" {
			errs.Add(at(entryLine("format")), "sources[%d] (%s): unknown format %q (want yaml or csv)", i, s.Path, s.Format)
		}
		if d := s.Delimiter; d != "" && !source.KnownDelimiter(d) {
			errs.Add(at(entryLine("delimiter")), "sources[%d] (%s): delimiter %q is not one of \",\" \";\" \"|\" \"tab\"", i, s.Path, d)
		}
		// CSV settings on a YAML source would do nothing, without a word.
		if f, err := s.FormatName(); err == nil && f == "yaml" {
			if s.Columns != (source.Columns{}) {
				errs.Add(at(entryLine("columns")), "sources[%d] (%s): columns: is for CSV sources; a YAML source names its keys (space:, members:)", i, s.Path)
			}
			if s.Delimiter != "" {
				errs.Add(at(entryLine("delimiter")), "sources[%d] (%s): delimiter: is for CSV sources", i, s.Path)
			}
		}
	}
	// A file listed twice is read once, by its first entry: a second that
	// reads it another way (another member column) would be dropped, and
	// the people only it names taken as unwanted.
	for j := range cfg.Sources {
		for i := 0; i < j; i++ {
			a, b := cfg.Sources[i], cfg.Sources[j]
			if a.Path == "" || b.Path == "" || !sameFile(a.Path, b.Path) {
				continue
			}
			if formatOf(a) != formatOf(b) || a.Delimiter != b.Delimiter || columnsOf(a) != columnsOf(b) {
				l, wj, wi := line("sources"), j, i // as written: yaml.v3 leaves out what it refused
				if written != nil {
					l, wj, wi = sources.Content[written[j]].Line, written[j], written[i]
				}
				errs.Add(at(l), "sources[%d] (%s) is the file of sources[%d], read with other settings (format, delimiter or columns); a file is read once: keep one entry", wj, b.Path, wi)
			}
			break
		}
	}
	if len(cfg.Sources) == 0 && !refusedList(valueOf(&cfg.root, "sources"), refused) && (cfg.root.Kind == 0 || !refused[top(&cfg.root)]) { // else why is reported above
		errs.Add(at(line("sources")), "no sources: list at least one YAML or CSV file")
	}
	switch cfg.Policy {
	case PolicyCreateOnly, PolicyUpsert, PolicySync:
	default:
		errs.Add(at(line("policy")), "unknown policy %q (want create-only, upsert or sync)", cfg.Policy)
	}
	protect := valueOf(&cfg.root, "protect")
	protectWritten := writtenEntries(protect, len(cfg.Protect), yaml.ScalarNode)
	for i, p := range cfg.Protect {
		if err := CheckProtect(p); err != nil {
			l := line("protect")
			if protectWritten != nil {
				l = protect.Content[protectWritten[i]].Line // the entry's own line, in a block list
			}
			errs.Add(at(l), "protect: %v", err)
		}
	}
	if cfg.Safety.MaxRemovalPercent.N > 100 {
		errs.Add(at(line("safety", "max_removal_percent")), "safety.max_removal_percent is %d; it is a share of a space's members, at most 100 (or unlimited)", cfg.Safety.MaxRemovalPercent.N)
	}
	if cfg.Safety.MaxSourceShrinkPercent.N > 100 {
		errs.Add(at(line("safety", "max_source_shrink_percent")), "safety.max_source_shrink_percent is %d; it is a share, at most 100 (or unlimited)", cfg.Safety.MaxSourceShrinkPercent.N)
	}
	if strings.TrimSpace(cfg.State.Location) == "" {
		errs.Add(at(line("state", "location")), "state.location is empty; it is where the last run's totals, the removal grace counters and the identity cache are kept (default syncer-state, next to this file)")
	} else if _, _, gs, err := state.ParseLocation(cfg.State.Location); err != nil {
		errs.Add(at(line("state", "location")), "state.location %v", err)
	} else if gs {
		if cfg.Identity.CacheFile != "" {
			errs.Add(at(line("identity", "cache_file")), "identity.cache_file is a local file, and state.location is in Cloud Storage, where the identity cache now lives (as identity-cache.json); remove identity.cache_file")
		}
	} else if why := unexpanded(cfg.State.Location); why != "" {
		errs.Add(at(line("state", "location")), "state.location %q: %s", cfg.State.Location, why)
	} else {
		cfg.State.Location = relativeTo(dir, cfg.State.Location)
	}
	if u, err := url.Parse(cfg.API.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs.Add(at(line("api", "endpoint")), "api.endpoint %q is not an http(s) URL", scrub.URL(cfg.API.Endpoint))
	} else if CleartextGoogle(u) {
		errs.Add(at(line("api", "endpoint")), "api.endpoint %q: Google's APIs are called over https (over http the run's access token would cross the network in clear)", scrub.URL(cfg.API.Endpoint))
	} else if !strings.HasSuffix(cfg.API.Endpoint, "/") {
		cfg.API.Endpoint += "/" // the Go client resolves paths against it
	}
	if !contains(authModes, cfg.Auth.Mode) {
		errs.Add(at(line("auth", "mode")), "unknown auth.mode %q (want one of %s)", cfg.Auth.Mode, strings.Join(authModes, ", "))
	}
	for _, f := range []struct {
		section, key string
		path         string
	}{
		{"auth", "credentials_file", cfg.Auth.CredentialsFile},
		{"auth", "token_file", cfg.Auth.TokenFile},
		{"identity", "cache_file", cfg.Identity.CacheFile},
	} {
		// A key the syncer never writes, there as written, is that file.
		if why := unexpanded(f.path); why != "" && !(f.key == "credentials_file" && there(relativeTo(dir, f.path))) {
			errs.Add(at(line(f.section, f.key)), "%s.%s %q: %s", f.section, f.key, f.path, why)
		}
	}
	asWritten := map[string]string{"identity.cache_file": cfg.Identity.CacheFile, "auth.token_file": cfg.Auth.TokenFile}
	cfg.Auth.CredentialsFile = relativeTo(dir, cfg.Auth.CredentialsFile)
	cfg.Auth.TokenFile = relativeTo(dir, cfg.Auth.TokenFile)
	cfg.Identity.CacheFile = relativeTo(dir, cfg.Identity.CacheFile)
	// The cache and the token are written: over an input they replace it
	// (the cache, on a plan too).
	for _, w := range []struct{ section, key, path string }{
		{"identity", "cache_file", cfg.Identity.CacheFile},
		{"auth", "token_file", cfg.Auth.TokenFile},
	} {
		if w.path == "" {
			continue
		}
		inputs := []struct{ what, path string }{{"this config", path}, {"auth.credentials_file", cfg.Auth.CredentialsFile}}
		if w.key == "cache_file" { // a run reads the token, then writes the cache
			inputs = append(inputs, struct{ what, path string }{"auth.token_file", cfg.Auth.TokenFile})
		}
		for _, s := range cfg.Sources {
			inputs = append(inputs, struct{ what, path string }{"a source", s.Path})
		}
		for _, in := range inputs {
			if in.path != "" && sameFile(w.path, in.path) {
				errs.Add(at(line(w.section, w.key)), "%s.%s %s is %s; it is written by the run (give it a file of its own)", w.section, w.key, asWritten[w.section+"."+w.key], in.what)
				break
			}
		}
	}
	if len(cfg.Identity.Domains) == 0 {
		cfg.Identity.Domains = nil // "domains: []" is the default, not a value
	}
	for i, d := range cfg.Identity.Domains {
		d = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(d), "@")))
		// As a source checks an address's domain: one no address can have
		// (example.com.) would make every address an outsider's.
		if err := source.CheckDomain(d); d == "" || err != nil {
			errs.Add(at(line("identity", "domains")), "identity.domains: %q is not a domain (e.g. example.com)", cfg.Identity.Domains[i])
		}
		cfg.Identity.Domains[i] = d
	}
	if cfg.Identity.CacheTTL <= 0 {
		errs.Add(at(line("identity", "cache_ttl")), "identity.cache_ttl must be positive, e.g. 24h")
	}
	if cfg.Plan.MaxAge <= 0 {
		errs.Add(at(line("plan", "max_age")), "plan.max_age must be positive, e.g. 24h")
	}
	for _, l := range []struct {
		key string
		v   int
		min int
	}{
		{"project_writes_per_minute", cfg.Limits.ProjectWritesPerMinute, 1},
		{"project_reads_per_minute", cfg.Limits.ProjectReadsPerMinute, 1},
		{"space_reads_per_second", cfg.Limits.SpaceReadsPerSecond, 1},
		{"space_writes_per_second", cfg.Limits.SpaceWritesPerSecond, 0},
		{"project_space_reads_per_minute", cfg.Limits.ProjectSpaceReadsPerMinute, 1},
		{"directory_per_minute", cfg.Limits.DirectoryPerMinute, 1},
		{"concurrency", cfg.Limits.Concurrency, 0},
		{"max_attempts", cfg.Limits.MaxAttempts, 1},
		{"held_memberships", cfg.Limits.HeldMemberships, 0},
	} {
		if l.v < l.min {
			errs.Add(at(line("limits", l.key)), "limits.%s is %d; it must be at least %d", l.key, l.v, l.min)
		}
	}
	if c := cfg.Limits.Concurrency; c > 1000 {
		errs.Add(at(line("limits", "concurrency")), "limits.concurrency is %d; at most 1000 calls in flight (0 sizes it from the quotas)", c)
	}
	if h := cfg.Limits.Headroom; h <= 0 || h > 1 {
		errs.Add(at(line("limits", "headroom")), "limits.headroom is %v; it is the share of each quota to use, above 0 and at most 1 (e.g. 0.98)", h)
	}
	if d := cfg.Limits.QuotaWindow; d < 100*time.Millisecond || d > time.Hour {
		errs.Add(at(line("limits", "quota_window")), "limits.quota_window is %v; it is what Google counts the per-minute quotas over (1m), between 100ms and 1h", d)
	}
	if d := cfg.Limits.CallTimeout; d < time.Second || d > 10*time.Minute {
		errs.Add(at(line("limits", "call_timeout")), "limits.call_timeout is %v; it must be between 1s and 10m", d)
	}
	if d := cfg.Limits.RunTimeout; d > 7*24*time.Hour {
		errs.Add(at(line("limits", "run_timeout")), "limits.run_timeout is %v; it must be at most 168h", d)
	} else if d < 2*cfg.Limits.CallTimeout {
		errs.Add(at(line("limits", "run_timeout")), "limits.run_timeout (%v) must be at least twice limits.call_timeout (%v)", d, cfg.Limits.CallTimeout)
	}
	if cfg.Schedule != "" {
		if _, err := ParseSchedule(cfg.Schedule); err != nil {
			errs.Add(at(line("schedule")), "schedule %q: %v", cfg.Schedule, err)
		}
	}
	switch a := cfg.Auth; a.Mode {
	case "service-account", "app":
		if a.CredentialsFile == "" {
			errs.Add(at(line("auth", "mode")), "auth.mode %s needs auth.credentials_file (a service account JSON key)", a.Mode)
		}
		if a.Mode == "app" && a.Subject != "" {
			errs.Add(at(line("auth", "subject")), "auth.mode app acts as the Chat app itself; remove auth.subject or use service-account for domain-wide delegation")
		}
	case "oauth-user":
		if a.CredentialsFile == "" || a.TokenFile == "" {
			errs.Add(at(line("auth", "mode")), "auth.mode oauth-user needs auth.credentials_file (the OAuth client JSON) and auth.token_file")
		}
	}
	if a := cfg.Auth; a.Subject != "" {
		if _, err := source.CheckEmail(a.Subject); err != nil {
			errs.Add(at(line("auth", "subject")), "auth.subject %q is not a user's address (%v): it is the user the run acts as, e.g. chat-admin@example.com", a.Subject, err)
		}
	}
	// A setting the mode does not use would be ignored without a word: adc
	// with a credentials_file acts as whoever the default credentials are.
	if a := cfg.Auth; contains(authModes, a.Mode) {
		uses := map[string][]string{
			"none":            {"subject"}, // the user an emulator's --caller acts as
			"service-account": {"credentials_file", "subject"},
			"app":             {"credentials_file", "subject"}, // subject: refused above, saying why
			"adc":             {"subject", "impersonate_service_account"},
			"oauth-user":      {"credentials_file", "token_file"},
		}[a.Mode]
		for _, f := range []struct{ key, value, hint string }{
			{"credentials_file", a.CredentialsFile, map[bool]string{true: " (Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS, gcloud, the metadata server)"}[a.Mode == "adc"]},
			{"token_file", a.TokenFile, ""},
			{"impersonate_service_account", a.ImpersonateServiceAccount, ""},
			{"subject", a.Subject, map[bool]string{true: " (the run acts as the user of syncer auth login)"}[a.Mode == "oauth-user"]},
		} {
			if f.value != "" && !contains(uses, f.key) {
				errs.Add(at(line("auth", f.key)), "auth.%s is not used by auth.mode %s%s; remove it", f.key, a.Mode, f.hint)
			}
		}
	}
	if !contains(Outputs, cfg.Report.Output) {
		errs.Add(at(line("report", "output")), "unknown report.output %q (want text, markdown, json or html)", cfg.Report.Output)
	}
	if len(errs) > 0 {
		// In file order; problems with no line (a key that is missing) last.
		slices.SortStableFunc(errs, func(a, b *source.Error) int {
			return cmp.Compare(lineOrLast(a.At.Line), lineOrLast(b.At.Line))
		})
		return nil, errs
	}
	return &cfg, nil
}

func lineOrLast(line int) int {
	if line == 0 {
		return math.MaxInt
	}
	return line
}

// ParseSchedule parses a cron spec: 5 fields, optional seconds, CRON_TZ=,
// and descriptors such as @hourly. What robfig/cron would quietly make
// something else is refused: an @every interval under a second, negative
// or with a fraction of a second (it runs every second, or rounds down),
// and a date that never comes (0 6 30 2 *: serve would never run).
func ParseSchedule(spec string) (cron.Schedule, error) {
	if (strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=")) && !strings.Contains(spec, " ") {
		// robfig/cron cuts the zone at the first space and panics when
		// there is none.
		return nil, errors.New("a time zone needs the schedule after it, and a space between them (e.g. CRON_TZ=Europe/Paris 0 6 * * 1-5)")
	}
	p := cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	s, err := p.Parse(spec)
	if err != nil {
		return nil, err
	}
	if _, every := s.(cron.ConstantDelaySchedule); every {
		_, text, _ := strings.Cut(spec, "@every ")
		if d, err := time.ParseDuration(strings.TrimSpace(text)); err != nil || d < time.Second || d%time.Second != 0 {
			return nil, errors.New("the interval must be whole seconds, at least 1s (e.g. @every 30m)")
		}
	}
	if s.Next(time.Now()).IsZero() {
		return nil, errors.New("it never fires (no such date in the next five years)")
	}
	return s, nil
}

// IsGoogleEndpoint reports whether the endpoint is Google's own.
func (c *Config) IsGoogleEndpoint() bool {
	u, err := url.Parse(c.API.Endpoint)
	return err == nil && isGoogleHost(u.Hostname())
}

func isGoogleHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".") // chat.googleapis.com. is the same host
	return host == "googleapis.com" || strings.HasSuffix(host, ".googleapis.com")
}

// CleartextGoogle reports an http:// URL of a Google host. Google serves
// its APIs over https only: such a call fails, but only after its
// Authorization header, the run's access token, crossed the network in
// clear.
func CleartextGoogle(u *url.URL) bool {
	return strings.EqualFold(u.Scheme, "http") && isGoogleHost(u.Hostname())
}

var variable = regexp.MustCompile(`\$(\{|[A-Za-z_])`)

// unexpanded says why a path written as a shell would expand it can't be
// taken (the syncer takes it as written: ~/state is a folder named "~"
// beside the config), or "".
func unexpanded(p string) string {
	if strings.HasPrefix(strings.TrimSpace(p), "~") || variable.MatchString(p) {
		return "~ and $VARIABLES are not expanded in the config; write the path out (relative to this file, or absolute)"
	}
	return ""
}

// formatOf is how a source is read, yaml or csv: format: csv on a .csv
// file reads it as leaving the format out does.
func formatOf(s source.Spec) string {
	if f, err := s.FormatName(); err == nil {
		return f
	}
	return strings.ToLower(strings.TrimSpace(s.Format))
}

// columnsOf is the CSV columns a source reads, as the reader matches
// them (case and spaces aside, the default for a column not named).
func columnsOf(s source.Spec) source.Columns {
	name := func(n, def string) string {
		if n == "" {
			n = def
		}
		return strings.ToLower(strings.TrimSpace(n))
	}
	return source.Columns{Space: name(s.Columns.Space, "space"), Member: name(s.Columns.Member, "member"), Role: name(s.Columns.Role, "role")}
}

// there reports whether a file is at path as written: a source named
// team$eng.csv is that file, with nothing to expand. (Only for inputs the
// syncer never writes: a folder named "~" may be an older run's.)
func there(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// sameFile reports whether two paths name one file: the same path, or
// the same file reached another way.
func sameFile(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

func relativeTo(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

func splitYAMLError(msg string) (int, string) {
	msg = strings.TrimSpace(msg)
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		return 0, strings.TrimPrefix(msg, "yaml: ")
	}
	n, _ := strconv.Atoi(m[1])
	return n, m[2]
}

// CheckProtect checks one protect entry: an email, a *@domain pattern, a
// numeric Directory ID, users/{...} or groups/{id}.
func CheckProtect(p string) error {
	s := strings.ToLower(strings.TrimSpace(p))
	switch {
	case s == "":
		return fmt.Errorf("an empty entry")
	case strings.HasPrefix(s, "*@"):
		// As a source would take an address's domain: a pattern no address
		// can match (*@partner.com.) protects nobody, and says nothing.
		if d := s[2:]; d == "" {
			return fmt.Errorf("%q: a domain pattern is *@example.com", p)
		} else if err := source.CheckDomain(d); err != nil {
			return fmt.Errorf("%q: a domain pattern is *@example.com: %v", p, err)
		}
	case strings.HasPrefix(s, "groups/"):
		if !source.IsGroupID(s[len("groups/"):]) {
			return fmt.Errorf("%q: a group is groups/{id}, and an ID is letters, digits, - and _", p)
		}
	case strings.Contains(s, "*"):
		return fmt.Errorf("%q: the only pattern is *@domain", p)
	case strings.Contains(s, "@"):
		// As a source would write it: an entry no address can match
		// protects nobody, and says nothing.
		if _, err := source.CheckEmail(strings.TrimPrefix(s, "users/")); err != nil {
			return fmt.Errorf("%q: %v", p, err)
		}
	case strings.TrimPrefix(s, "users/") != "" && strings.Trim(strings.TrimPrefix(s, "users/"), "0123456789") == "":
	default:
		return fmt.Errorf("%q is not an email, *@domain, a Directory ID, users/{...} or groups/{id}", p)
	}
	return nil
}

// valueError reports a bad value the way yaml.v3 reports a type mismatch,
// so it is listed with its line like every other problem.
func valueError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: ", n.Line) + fmt.Sprintf(format, args...)}}
}
