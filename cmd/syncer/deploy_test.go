package main

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/source"
)

const (
	deployDir = "../../docs/deploy"
	repoRoot  = "../.."
	// sigtermGrace is how long the syncer promises to take to exit after SIGTERM;
	// every recipe's stop timeout must be longer.
	sigtermGrace = 10 * time.Second
)

// checkInvocation fails unless args name a syncer command and only flags it defines.
func checkInvocation(t *testing.T, where string, args []string) {
	t.Helper()
	if len(args) == 0 {
		t.Errorf("%s: no syncer command", where)
		return
	}
	_, _, help := runCLI(t, args[0], "--help")
	if !strings.Contains(help, "Usage: syncer "+args[0]) {
		t.Errorf("%s: %q is not a syncer command", where, args[0])
		return
	}
	for _, a := range args[1:] {
		if name, ok := strings.CutPrefix(a, "--"); ok {
			name, _, _ = strings.Cut(name, "=")
			if !regexp.MustCompile(`(?m)^\s+-` + regexp.QuoteMeta(name) + `\b`).MatchString(help) {
				t.Errorf("%s: syncer %s has no flag --%s", where, args[0], name)
			}
		}
	}
}

// flagValue is the value of --name in args ("--name v" or "--name=v").
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if a == "--"+name && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// checkConfig parses a config text the way syncer would, with its sources.
// It returns the config, or nil after reporting why it is invalid.
func checkConfig(t *testing.T, where, text string, sources map[string]string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	for name, content := range sources {
		os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
	}
	cfg, err := config.Parse(filepath.Join(dir, "config.yaml"), []byte(text))
	if err != nil {
		t.Errorf("%s: config: %v", where, err)
		return nil
	}
	if sources != nil {
		if _, err := source.Load(cfg.Sources); err != nil {
			t.Errorf("%s: sources: %v", where, err)
		}
	}
	return cfg
}

// runTimeout is the config's whole-run deadline, or the default one.
func runTimeout(cfg *config.Config) time.Duration {
	if cfg == nil {
		return config.Defaults().Limits.RunTimeout
	}
	return cfg.Limits.RunTimeout
}

// minInterval is the shortest gap between two consecutive firings of a cron
// spec over a fortnight.
func minInterval(t *testing.T, spec string) time.Duration {
	t.Helper()
	s, err := config.ParseSchedule(spec)
	if err != nil {
		t.Fatalf("schedule %q: %v", spec, err)
	}
	return minGap(s)
}

func minGap(s cron.Schedule) time.Duration {
	from := time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)
	shortest := time.Duration(1<<63 - 1)
	prev := s.Next(from)
	for next := s.Next(prev); next.Before(from.Add(14 * 24 * time.Hour)); prev, next = next, s.Next(next) {
		shortest = min(shortest, next.Sub(prev))
	}
	return shortest
}

// yamlInt reads an integer from a decoded YAML map; ok is false when absent.
func yamlInt(m map[string]any, key string) (int, bool) {
	v, ok := m[key].(int)
	return v, ok
}

// dockerfileUser is the uid and gid of the final stage's USER line.
func dockerfileUser(t *testing.T) (uid, gid int) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^USER\s+(\d+):(\d+)\s*$`).FindAllStringSubmatch(string(data), -1)
	if m == nil {
		t.Fatal("Dockerfile: no numeric USER uid:gid")
	}
	uid, _ = strconv.Atoi(m[len(m)-1][1])
	gid, _ = strconv.Atoi(m[len(m)-1][2])
	return uid, gid
}

func TestKubernetesCronJob(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(deployDir, "kubernetes", "cronjob.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var configMap, cronJob map[string]any
	for {
		var doc map[string]any
		if dec.Decode(&doc) != nil {
			break
		}
		switch doc["kind"] {
		case "ConfigMap":
			configMap = doc
		case "CronJob":
			cronJob = doc
		}
	}
	if configMap == nil || cronJob == nil {
		t.Fatal("cronjob.yaml needs a ConfigMap and a CronJob")
	}
	cmData := configMap["data"].(map[string]any)
	cfg := checkConfig(t, "ConfigMap config.yaml", cmData["config.yaml"].(string), map[string]string{"members.yaml": cmData["members.yaml"].(string)})
	if cfg != nil && !cfg.State.InCloudStorage() {
		// By default state sits next to the config: a read-only ConfigMap, gone with the pod.
		t.Errorf("state.location %q: a CronJob's pod keeps nothing; use gs:// (or a PersistentVolumeClaim)", cfg.State.Location)
	}

	spec := cronJob["spec"].(map[string]any)
	if spec["concurrencyPolicy"] != "Forbid" {
		t.Errorf("concurrencyPolicy %v, want Forbid", spec["concurrencyPolicy"])
	}
	if _, err := config.ParseSchedule(spec["schedule"].(string)); err != nil {
		t.Errorf("schedule: %v", err)
	}
	jobSpec := spec["jobTemplate"].(map[string]any)["spec"].(map[string]any)
	// The syncer must hit its own run deadline (and print its partial report)
	// before Kubernetes kills the Job.
	if ads, ok := yamlInt(jobSpec, "activeDeadlineSeconds"); ok && time.Duration(ads)*time.Second <= runTimeout(cfg) {
		t.Errorf("activeDeadlineSeconds %d must exceed limits.run_timeout (%v), or the Job is killed before the syncer can report", ads, runTimeout(cfg))
	}
	pod := jobSpec["template"].(map[string]any)["spec"].(map[string]any)
	if pod["restartPolicy"] != "Never" {
		t.Errorf("restartPolicy %v, want Never", pod["restartPolicy"])
	}
	if g, ok := yamlInt(pod, "terminationGracePeriodSeconds"); ok && time.Duration(g)*time.Second <= sigtermGrace {
		t.Errorf("terminationGracePeriodSeconds %d: the syncer takes up to %v after SIGTERM", g, sigtermGrace)
	}
	failsOnExit3 := false
	for _, r := range jobSpec["podFailurePolicy"].(map[string]any)["rules"].([]any) {
		rule := r.(map[string]any)
		if codes, ok := rule["onExitCodes"].(map[string]any); ok && rule["action"] == "FailJob" && codes["operator"] == "In" {
			for _, v := range codes["values"].([]any) {
				failsOnExit3 = failsOnExit3 || v == 3
			}
		}
	}
	if !failsOnExit3 {
		t.Error("podFailurePolicy must fail the Job on exit 3 rather than retry it")
	}
	container := pod["containers"].([]any)[0].(map[string]any)
	var args []string
	for _, a := range container["args"].([]any) {
		args = append(args, a.(string))
	}
	checkInvocation(t, "CronJob args", args)

	// Who the container runs as: the image's nonroot user, stated in the pod.
	podSC, _ := pod["securityContext"].(map[string]any)
	if podSC == nil {
		t.Fatal("the pod needs a securityContext")
	}
	imageUID, imageGID := dockerfileUser(t)
	runAsUser, hasUser := yamlInt(podSC, "runAsUser")
	_, hasFSGroup := yamlInt(podSC, "fsGroup")
	if podSC["runAsNonRoot"] != true || !hasUser || runAsUser != imageUID {
		t.Errorf("pod securityContext %v: want runAsNonRoot and runAsUser %d (the Dockerfile's USER)", podSC, imageUID)
	}
	if !hasUser {
		runAsUser = imageUID // what the container runs as without runAsUser
	}
	if g, ok := yamlInt(podSC, "runAsGroup"); ok && g != imageGID {
		t.Errorf("runAsGroup %d, the Dockerfile's USER has group %d", g, imageGID)
	}
	if !hasFSGroup {
		t.Error("pod securityContext has no fsGroup: the Secret's files stay root-owned and a nonroot syncer can't read its key")
	}

	// The key's volume: secret files are owned by root, group fsGroup.
	mounts := map[string]string{} // mountPath → volume name
	for _, m := range container["volumeMounts"].([]any) {
		vm := m.(map[string]any)
		mounts[vm["mountPath"].(string)] = vm["name"].(string)
	}
	volumes := map[string]map[string]any{}
	for _, v := range pod["volumes"].([]any) {
		vol := v.(map[string]any)
		volumes[vol["name"].(string)] = vol
	}
	if cfg == nil || cfg.Auth.CredentialsFile == "" {
		t.Fatal("the ConfigMap's config names no credentials_file")
	}
	keyVolume := volumes[mounts[filepath.Dir(cfg.Auth.CredentialsFile)]]
	secret, _ := keyVolume["secret"].(map[string]any)
	if secret == nil {
		t.Fatalf("credentials_file %s is not on a Secret volume", cfg.Auth.CredentialsFile)
	}
	mode, ok := yamlInt(secret, "defaultMode")
	if !ok {
		mode = 0o644 // Kubernetes' default
	}
	if mode&0o007 != 0 {
		t.Errorf("key defaultMode %#o lets others read the key; the syncer refuses such a key file", mode)
	}
	ownerReads := runAsUser == 0 && mode&0o400 != 0 // files are owned by root
	groupReads := hasFSGroup && mode&0o040 != 0     // and group-owned by fsGroup
	if !ownerReads && !groupReads {
		t.Errorf("key defaultMode %#o with runAsUser %d and fsGroup %v: the syncer can't read its key (exit 3); want group read (0440) with fsGroup", mode, runAsUser, podSC["fsGroup"])
	}

	// The container is locked down, with a writable temp folder for the lock.
	sc, _ := container["securityContext"].(map[string]any)
	if sc == nil {
		t.Fatal("the container needs a securityContext")
	}
	if sc["allowPrivilegeEscalation"] != false {
		t.Error("container: allowPrivilegeEscalation must be false")
	}
	if sc["readOnlyRootFilesystem"] != true {
		t.Error("container: readOnlyRootFilesystem must be true")
	}
	caps, _ := sc["capabilities"].(map[string]any)
	if drop, _ := caps["drop"].([]any); len(drop) != 1 || drop[0] != "ALL" {
		t.Errorf("container: capabilities %v, want drop [ALL]", caps)
	}
	seccomp := func(m map[string]any) any { p, _ := m["seccompProfile"].(map[string]any); return p["type"] }
	if seccomp(sc) != "RuntimeDefault" && seccomp(podSC) != "RuntimeDefault" {
		t.Error("seccompProfile must be RuntimeDefault")
	}
	tmpdir := "/tmp"
	if env, ok := container["env"].([]any); ok {
		for _, e := range env {
			if ev := e.(map[string]any); ev["name"] == "TMPDIR" {
				tmpdir = ev["value"].(string)
			}
		}
	}
	if tmp := volumes[mounts[tmpdir]]; tmp == nil || tmp["emptyDir"] == nil {
		t.Errorf("the root filesystem is read-only, so the temp folder %s (the apply lock) needs an emptyDir", tmpdir)
	}
}

// parseUnit reads a systemd unit file into "[Section]Key" → value (the last one).
func parseUnit(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	section, keys := "", map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Errorf("%s: not a unit file line: %q", filepath.Base(path), line)
			}
			keys[section+k] = v
		}
	}
	return keys
}

// systemdSpan parses a systemd time span: "20s", "70min", "1h 10min", "90".
func systemdSpan(s string) (time.Duration, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	r := strings.NewReplacer("min", "m", "sec", "s", "hr", "h")
	return time.ParseDuration(r.Replace(s))
}

func TestSystemdUnits(t *testing.T) {
	path := filepath.Join(deployDir, "systemd", "syncer.service")
	svc, timer := parseUnit(t, path), parseUnit(t, filepath.Join(deployDir, "systemd", "syncer.timer"))
	if svc["[Service]Type"] != "oneshot" || timer["[Timer]OnCalendar"] == "" || timer["[Install]WantedBy"] != "timers.target" {
		t.Errorf("units %v %v", svc, timer)
	}
	exec := strings.Fields(svc["[Service]ExecStart"])
	if len(exec) < 2 || filepath.Base(exec[0]) != "syncer" {
		t.Fatalf("ExecStart %q", svc["[Service]ExecStart"])
	}
	checkInvocation(t, "syncer.service ExecStart", exec[1:])

	// The user: a dynamic one, so there is nobody to create.
	if svc["[Service]DynamicUser"] != "yes" {
		t.Errorf("DynamicUser=%q: without it, User= %q names an account the recipe never creates", svc["[Service]DynamicUser"], svc["[Service]User"])
	}
	// The key comes as a credential, and the config is told its path.
	id, keyPath, ok := strings.Cut(svc["[Service]LoadCredential"], ":")
	if !ok || id == "" || !filepath.IsAbs(keyPath) {
		t.Errorf("LoadCredential=%q, want ID:/path/to/key", svc["[Service]LoadCredential"])
	}
	text, _ := os.ReadFile(path)
	if want := "credentials_file: /run/credentials/syncer.service/" + id; !strings.Contains(string(text), want) {
		t.Errorf("syncer.service must tell the config where the credential lands: %q", want)
	}

	// Everything the run writes is somewhere ProtectSystem=strict lets it write.
	writable := []string{"/tmp/"}
	if d := svc["[Service]StateDirectory"]; d != "" {
		writable = append(writable, "/var/lib/"+d+"/")
	}
	if d := svc["[Service]RuntimeDirectory"]; d != "" {
		writable = append(writable, "/run/"+d+"/")
	}
	for _, d := range strings.Fields(svc["[Service]ReadWritePaths"]) {
		writable = append(writable, strings.TrimSuffix(d, "/")+"/")
	}
	for _, flag := range []string{"report-file", "lock-file"} {
		v, ok := flagValue(exec[1:], flag)
		if !ok {
			continue
		}
		under := false
		for _, w := range writable {
			under = under || strings.HasPrefix(v, w)
		}
		if !under {
			t.Errorf("--%s %s is not under a writable directory %v", flag, v, writable)
		}
	}
	if svc["[Service]StateDirectory"] == "" {
		t.Error("no StateDirectory=: the report and an identity cache have nowhere to go")
	}
	// state.location defaults to a folder beside the config, in /etc,
	// which ProtectSystem=strict makes read-only: the config must move it.
	if want := "location: /var/lib/" + svc["[Service]StateDirectory"] + "/"; !strings.Contains(string(text), want) {
		t.Errorf("syncer.service must tell the config to keep its state under StateDirectory: %q", want)
	}

	// Hardening.
	for key, want := range map[string]string{"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes"} {
		if got := svc["[Service]"+key]; got != want {
			t.Errorf("%s=%q, want %q", key, got, want)
		}
	}
	// Timeouts: the syncer's own deadlines come first.
	if stop, err := systemdSpan(svc["[Service]TimeoutStopSec"]); err != nil || stop <= sigtermGrace {
		t.Errorf("TimeoutStopSec=%q must exceed the syncer's %v after SIGTERM (%v)", svc["[Service]TimeoutStopSec"], sigtermGrace, err)
	}
	if start, err := systemdSpan(svc["[Service]TimeoutStartSec"]); err != nil || start <= runTimeout(nil) {
		t.Errorf("TimeoutStartSec=%q must exceed limits.run_timeout (%v) (%v)", svc["[Service]TimeoutStartSec"], runTimeout(nil), err)
	}
	if v, ok := svc["[Service]SuccessExitStatus"]; ok {
		t.Errorf("SuccessExitStatus=%s: every non-zero exit is a failure to see", v)
	}
}

func TestCrontab(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(deployDir, "crontab"))
	if err != nil {
		t.Fatal(err)
	}
	env := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\s*=`)
	jobs := 0
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") || env.MatchString(line) {
			continue
		}
		jobs++
		f := strings.Fields(line)
		if len(f) < 7 || filepath.Base(f[5]) != "syncer" {
			t.Errorf("crontab: %q does not run syncer", line)
			continue
		}
		if _, err := config.ParseSchedule(strings.Join(f[:5], " ")); err != nil {
			t.Errorf("crontab schedule: %v", err)
		}
		var args []string
		for _, a := range f[6:] {
			if strings.ContainsAny(a, "<>|") {
				break
			}
			args = append(args, a)
		}
		checkInvocation(t, "crontab", args)
		command := strings.Join(f[5:], " ")
		// The report (stdout) and the logs (stderr) must land somewhere, not
		// in a mail every half hour.
		if !regexp.MustCompile(`(^|\s)1?>>?\s*\S`).MatchString(command) {
			t.Error("crontab: stdout (the report) is not redirected; cron would mail it on every run")
		}
		if !regexp.MustCompile(`(^|\s)2>>?\s*\S|2>&1`).MatchString(command) {
			t.Error("crontab: stderr (the logs) is not redirected")
		}
		if strings.Contains(command, "flock") {
			t.Error("crontab: no flock needed, apply takes its own lock")
		}
		if regexp.MustCompile(`(^|[^\\])%`).MatchString(command) {
			t.Error("crontab: an unescaped % ends the command in cron")
		}
	}
	if jobs != 1 {
		t.Errorf("crontab: %d job lines, want 1", jobs)
	}
	if !strings.Contains(string(data), "overlap") {
		t.Error("crontab: say why runs don't overlap")
	}
	// The config is in /etc/syncer, which the syncer user can't write:
	// state.location (by default beside the config) must move to its home.
	if !strings.Contains(string(data), "location: /var/lib/syncer/") {
		t.Error("crontab: tell the config to keep its state where the syncer user can write")
	}
}

func TestCloudRunRecipe(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(deployDir, "cloud-run.md"))
	if err != nil {
		t.Fatal(err)
	}
	// The placeholders as a reader fills them in (project IDs are lower-case).
	doc := strings.NewReplacer("PROJECT", "my-project", "REGION", "europe-west1").Replace(string(data))
	m := regexp.MustCompile(`--args (\S+)`).FindStringSubmatch(doc)
	if m == nil {
		t.Fatal("no --args in the Cloud Run job")
	}
	checkInvocation(t, "Cloud Run --args", strings.Split(m[1], ","))
	block := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindStringSubmatch(doc)
	if block == nil {
		t.Fatal("no config block")
	}
	cfg := checkConfig(t, "Cloud Run config", block[1], nil)
	if cfg == nil {
		t.FailNow()
	}
	// A task's disk is gone after each run: state (and the lock) must be in Cloud Storage,
	// in the bucket the runner's identity is given objectUser on.
	if !cfg.State.InCloudStorage() || !strings.Contains(doc, "roles/storage.objectUser") ||
		!strings.Contains(doc, "gs://"+strings.SplitN(strings.TrimPrefix(cfg.State.Location, "gs://"), "/", 2)[0]+" ") {
		t.Errorf("Cloud Run config keeps state at %q; want gs:// in the bucket the recipe grants roles/storage.objectUser on", cfg.State.Location)
	}
	for _, want := range []string{"roles/iam.serviceAccountTokenCreator", "roles/run.invoker", "gcloud scheduler jobs create http", "chat.memberships", "admin.directory.user.readonly"} {
		if !strings.Contains(doc, want) {
			t.Errorf("cloud-run.md lacks %q", want)
		}
	}

	command := func(prefix string) string { // a shell command with its continuation lines
		m := regexp.MustCompile(regexp.QuoteMeta(prefix) + `(?:[^\n]*\\\n)*[^\n]*`).FindString(doc)
		if m == "" {
			t.Fatalf("cloud-run.md has no %s", prefix)
		}
		return m
	}

	// APIs: whatever the page uses must be enabled in step 1.
	enable := command("gcloud services enable")

	for use, api := range map[string]string{
		"gcloud builds submit":   "cloudbuild.googleapis.com",
		"docker.pkg.dev":         "artifactregistry.googleapis.com",
		"gcloud run jobs create": "run.googleapis.com",
		"gcloud scheduler":       "cloudscheduler.googleapis.com",
		"gcloud secrets":         "secretmanager.googleapis.com",
		"impersonate":            "iamcredentials.googleapis.com",
		"gcloud storage":         "storage.googleapis.com",
	} {
		if strings.Contains(doc, use) && !strings.Contains(enable, api) {
			t.Errorf("cloud-run.md uses %q but does not enable %s", use, api)
		}
	}

	// Deadlines: run_timeout < --task-timeout < the schedule's interval.
	job, scheduler := command("gcloud run jobs create"), command("gcloud scheduler jobs create http")
	tt := regexp.MustCompile(`--task-timeout[ =](\S+)`).FindStringSubmatch(job)
	if tt == nil {
		t.Fatal("no --task-timeout")
	}
	taskTimeout, err := systemdSpan(tt[1]) // gcloud: a duration, or bare seconds
	if err != nil {
		t.Fatalf("--task-timeout %s: %v", tt[1], err)
	}
	if taskTimeout <= runTimeout(cfg) {
		t.Errorf("--task-timeout %v must exceed limits.run_timeout (%v): the syncer must end the run itself and print its partial report", taskTimeout, runTimeout(cfg))
	}
	sched := regexp.MustCompile(`--schedule "([^"]+)"`).FindStringSubmatch(scheduler)
	if sched == nil {
		t.Fatal("no --schedule")
	}
	if every := minInterval(t, sched[1]); every <= taskTimeout {
		t.Errorf("the schedule fires every %v, within --task-timeout %v: executions would overlap (the syncer's lock is per host)", every, taskTimeout)
	}
	mr := regexp.MustCompile(`--max-retries[ =](\d+)`).FindStringSubmatch(job)
	if mr == nil || (mr[1] != "0" && mr[1] != "1") {
		t.Errorf("--max-retries %v: Cloud Run retries exit 3 and 4 too, so 0 or 1", mr)
	}
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	for _, want := range []string{`ENTRYPOINT ["/syncer"]`, "EXPOSE 8080", "USER 65532:65532"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^FROM gcr\.io/distroless/static[^\s]*:nonroot\s*$`).MatchString(df) {
		t.Error("the final stage must be distroless static, nonroot")
	}
	// The image's binary is built as a release's is, through scripts/gobuild.sh, with
	// VERSION and COMMIT declared in the build stage before the build that stamps them.
	stages := regexp.MustCompile(`(?m)^FROM `).Split(df, -1)
	stamped := false
	for _, st := range stages {
		build := regexp.MustCompile(`(?m)^RUN .*\bVERSION=\$\{?VERSION\}? COMMIT=\$\{?COMMIT\}?[^\n]*(\\\n[^\n]*)*scripts/gobuild\.sh /syncer`).FindStringIndex(st)
		if build == nil {
			continue
		}
		for _, arg := range []string{"VERSION", "COMMIT", "SOURCE_DATE_EPOCH"} {
			a := regexp.MustCompile(`(?m)^ARG ` + arg + `(=\S*)?\s*$`).FindStringIndex(st)
			stamped = a != nil && a[0] < build[0]
			if !stamped {
				break
			}
		}
	}
	if !stamped {
		t.Error("the Dockerfile must build with scripts/gobuild.sh, after ARG VERSION, ARG COMMIT and ARG SOURCE_DATE_EPOCH in that stage: RUN ... VERSION=$VERSION COMMIT=$COMMIT scripts/gobuild.sh /syncer")
	}
	// gobuild.sh is the one build: static, path-free, stamped with the version and the commit;
	// make build and make release use it too.
	gobuild, err := os.ReadFile(filepath.Join(repoRoot, "scripts", "gobuild.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-buildvcs=false", "-X main.version=$version", "-X main.commit=$commit", "./cmd/syncer"} {
		if !strings.Contains(string(gobuild), want) {
			t.Errorf("scripts/gobuild.sh lacks %q", want)
		}
	}
	mk, _ := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	release, _ := os.ReadFile(filepath.Join(repoRoot, "scripts", "release.sh"))
	if !regexp.MustCompile(`(?m)^build:\n\t.*scripts/gobuild\.sh`).Match(mk) || !strings.Contains(string(release), "scripts/gobuild.sh") {
		t.Error("make build and scripts/release.sh must build with scripts/gobuild.sh")
	}

	// .dockerignore keeps the context small but keeps every source the build needs.
	ignore, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(ignore), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	for _, p := range []string{".git/HEAD", "bin/syncer"} {
		if !dockerIgnored(patterns, p) {
			t.Errorf(".dockerignore must exclude %s", p)
		}
	}
	needed := []string{"go.mod", "go.sum", "scripts/gobuild.sh"}
	filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, path)
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go") {
			needed = append(needed, filepath.ToSlash(rel))
		}
		return nil
	})
	for _, p := range needed {
		if dockerIgnored(patterns, p) {
			t.Errorf(".dockerignore excludes %s, which the image build needs", p)
		}
	}
}

// dockerIgnored reports whether a path (slash-separated, relative to the
// context) is left out by .dockerignore patterns: a pattern matches the path or
// one of its parent folders; a leading **/ matches at any depth; ! re-includes.
func dockerIgnored(patterns []string, path string) bool {
	ignored := false
	parts := strings.Split(path, "/")
	for _, p := range patterns {
		negate := strings.HasPrefix(p, "!")
		p = strings.Trim(strings.TrimPrefix(p, "!"), "/")
		anyDepth := false
		for strings.HasPrefix(p, "**/") {
			p, anyDepth = strings.TrimPrefix(p, "**/"), true
		}
		depth := strings.Count(p, "/") + 1
		matched := false
		for start := 0; start+depth <= len(parts) && !matched; start++ {
			if start > 0 && !anyDepth {
				break
			}
			matched, _ = filepath.Match(p, strings.Join(parts[start:start+depth], "/"))
		}
		if matched {
			ignored = !negate
		}
	}
	return ignored
}

func TestDockerIgnoreMatcher(t *testing.T) {
	for _, c := range []struct {
		patterns []string
		path     string
		want     bool
	}{
		{[]string{".git"}, ".git/HEAD", true},
		{[]string{"bin/"}, "bin/syncer", true},
		{[]string{"*.md"}, "README.md", true},
		{[]string{"*.md"}, "docs/x.md", false},
		{[]string{"**/testdata/"}, "internal/report/testdata/a.txt", true},
		{[]string{"*.go"}, "main.go", true},
		{[]string{"cmd"}, "cmd/syncer/main.go", true},
		{[]string{"cmd", "!cmd/syncer"}, "cmd/syncer/main.go", false},
		{[]string{"internal/*/x.go"}, "internal/a/x.go", true},
	} {
		if got := dockerIgnored(c.patterns, c.path); got != c.want {
			t.Errorf("dockerIgnored(%v, %s) = %v, want %v", c.patterns, c.path, got, c.want)
		}
	}
}

// TestDeployMakefile runs the Makefile's test and tidy-check targets with a
// stand-in for go, to check when -race is used and when go.mod is untidy.
func TestDeployMakefile(t *testing.T) {
	makePath, err := exec.LookPath("make")
	if err != nil {
		t.Skip("no make")
	}
	dir := t.TempDir()
	fakeGo := filepath.Join(dir, "go")
	os.WriteFile(fakeGo, []byte(`#!/bin/sh
case "$1" in
env) case "$2" in CGO_ENABLED) echo "$FAKE_CGO";; CC) echo "$FAKE_CC";; esac;;
mod) printf '%s' "$FAKE_TIDY";;
*) echo "ran: go $*";;
esac
`), 0o755)
	run := func(cgo, cc, tidy string, args ...string) (string, error) {
		cmd := exec.Command(makePath, append([]string{"-s", "-C", repoRoot, "GO=" + fakeGo}, args...)...)
		// Not the outer make's settings: CI runs this test under `make test RACE=1`.
		for _, kv := range os.Environ() {
			switch k, _, _ := strings.Cut(kv, "="); k {
			case "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "RACE":
			default:
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, "FAKE_CGO="+cgo, "FAKE_CC="+cc, "FAKE_TIDY="+tidy)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// -o: lint (gofmt and vet on the real tree) and tidy-check are tested apart.
	testOnly := []string{"-o", "lint", "-o", "tidy-check", "test"}
	for _, c := range []struct {
		name, cgo, cc string
		race          string
		wantRace      bool
		wantNote      bool
		wantFail      bool
	}{
		{"compiler", "1", "sh", "", true, false, false},
		{"compiler with flags", "1", "sh -x", "", true, false, false},
		{"no compiler", "1", "no-such-cc-for-syncer", "", false, true, false},
		{"cgo off", "0", "sh", "", false, true, false},
		{"RACE=1", "1", "sh", "RACE=1", true, false, false},
		{"RACE=1 without a compiler", "1", "no-such-cc-for-syncer", "RACE=1", false, false, true},
		{"RACE=0", "1", "sh", "RACE=0", false, false, false},
	} {
		args := testOnly
		if c.race != "" {
			args = append([]string{c.race}, testOnly...)
		}
		out, err := run(c.cgo, c.cc, "", args...)
		if (err != nil) != c.wantFail {
			t.Errorf("%s: make test: %v\n%s", c.name, err, out)
			continue
		}
		if c.wantFail {
			if strings.Contains(out, "ran: go test") {
				t.Errorf("%s: tests ran without -race:\n%s", c.name, out)
			}
			continue
		}
		ranRace := strings.Contains(out, "ran: go test -race -count=1 ./...")
		ranPlain := strings.Contains(out, "ran: go test -count=1 ./...")
		if ranRace != c.wantRace || ranRace == ranPlain {
			t.Errorf("%s: want -race %v:\n%s", c.name, c.wantRace, out)
		}
		if note := strings.Contains(out, "no C compiler: running without -race"); note != c.wantNote {
			t.Errorf("%s: note %v, want %v:\n%s", c.name, note, c.wantNote, out)
		}
	}
	if out, err := run("1", "sh", "", "tidy-check"); err != nil {
		t.Errorf("tidy-check with nothing to tidy: %v\n%s", err, out)
	}
	if out, err := run("1", "sh", "diff current/go.sum tidy/go.sum\n+x h1:y=\n", "tidy-check"); err == nil || !strings.Contains(out, "+x h1:y=") {
		t.Errorf("tidy-check must fail and show the diff when go mod tidy -diff prints one: %v\n%s", err, out)
	}
	if mk, _ := os.ReadFile(filepath.Join(repoRoot, "Makefile")); !regexp.MustCompile(`(?m)^test:.*\btidy-check\b`).Match(mk) {
		t.Error("make test must run tidy-check")
	}
	if ci, _ := os.ReadFile(filepath.Join(repoRoot, ".ci", "run")); !strings.Contains(string(ci), "make test RACE=1") {
		t.Error(".ci/run must require the race detector: make test RACE=1")
	}
}

// syncerLines are the syncer command lines in a workflow step's script, as
// arguments (redirections and comments dropped, continuations joined).
func syncerLines(script string) [][]string {
	var out [][]string
	script = strings.ReplaceAll(script, "\\\n", " ")
	for _, line := range strings.Split(script, "\n") {
		line, _, _ = strings.Cut(line, " #")
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != "syncer" {
			continue
		}
		var args []string
		for _, f := range fields[1:] {
			if strings.HasPrefix(f, ">") || f == "|" || f == "||" || f == "&&" {
				break
			}
			args = append(args, strings.Trim(f, `"`))
		}
		out = append(out, args)
	}
	return out
}

func TestGitHubActionsReviewedPlans(t *testing.T) {
	type step struct {
		Uses string            `yaml:"uses"`
		Run  string            `yaml:"run"`
		With map[string]string `yaml:"with"`
	}
	type workflow struct {
		Env  map[string]string `yaml:"env"`
		Jobs map[string]struct {
			If    string `yaml:"if"`
			Steps []step `yaml:"steps"`
		} `yaml:"jobs"`
	}
	read := func(name string) (workflow, []step) {
		var w workflow
		data, err := os.ReadFile(filepath.Join(deployDir, "github-actions", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(data, &w); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var steps []step
		for _, j := range w.Jobs {
			steps = append(steps, j.Steps...)
		}
		return w, steps
	}
	mod, _ := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	module := strings.Fields(strings.SplitN(string(mod), "\n", 2)[0])[1]
	var planOut, planIn, downloadedAs string
	uploads := map[string]string{} // artifact name: path
	var pages []string             // HTML pages syncer writes
	versions := map[string]bool{}
	for _, name := range []string{"chat-plan.yml", "chat-apply.yml"} {
		w, steps := read(name)
		versions[w.Env["SYNCER_VERSION"]] = true
		for _, s := range steps {
			if strings.Contains(s.Run, "go install") && !strings.Contains(s.Run, module+"/cmd/syncer@") {
				t.Errorf("%s installs something other than %s/cmd/syncer: %q", name, module, s.Run)
			}
			for _, args := range syncerLines(s.Run) {
				checkInvocation(t, name, args)
				if v, ok := flagValue(args, "out"); ok && args[0] == "plan" {
					planOut = v
				}
				if v, ok := flagValue(args, "plan"); ok && args[0] == "apply" {
					planIn = v
				}
				if v, ok := flagValue(args, "report-file"); ok && strings.HasSuffix(v, ".html") {
					pages = append(pages, v)
				}
			}
			for _, m := range regexp.MustCompile(`(?m)^\s*syncer .*--output html .*> *(\S+\.html)`).FindAllStringSubmatch(s.Run, -1) {
				pages = append(pages, m[1])
			}
			if strings.HasPrefix(s.Uses, "actions/upload-artifact") {
				uploads[s.With["name"]] = s.With["path"]
			}
			if _, rest, ok := strings.Cut(s.Run, "gh run download"); ok {
				if _, n, ok := strings.Cut(rest, "--name "); ok {
					downloadedAs = strings.Fields(n)[0]
				}
			}
		}
		if name == "chat-apply.yml" {
			for _, j := range w.Jobs {
				if !strings.Contains(j.If, "merged == true") {
					t.Errorf("chat-apply runs on pull requests closed without a merge (if: %q)", j.If)
				}
			}
		}
	}
	if len(versions) != 1 || versions[""] {
		t.Errorf("plan and apply must pin one syncer version: %v", versions)
	}
	if uploaded := uploads[downloadedAs]; planOut == "" || planOut != uploaded || planIn != filepath.Base(uploaded) || downloadedAs == "" {
		t.Errorf("the plan file doesn't travel from plan to apply: plan --out %q, uploaded %q as %q, downloaded %q, apply --plan %q",
			planOut, uploaded, downloadedAs, downloadedAs, planIn)
	}
	// The plan's and the outcome's HTML pages are kept for those who read them.
	kept := map[string]bool{}
	for _, path := range uploads {
		kept[path] = true
	}
	if len(pages) != 2 || !kept[pages[0]] || !kept[pages[1]] {
		t.Errorf("the HTML pages syncer writes (%q) are not all uploaded as artifacts (%v)", pages, uploads)
	}
}

// TestPinnedVersions: every version the recipes, the Dockerfile and the README name is the
// newest release, every release file they name is one a release makes, and each recipe
// says how to check what it installs against the release's checksums.
func TestPinnedVersions(t *testing.T) {
	newest := newestRelease(t)
	assets := releaseAssets(newest, strings.Fields(makeVar(t, "RELEASE_TARGETS")))
	sums := "syncer_" + newest + "_SHA256SUMS"
	pin := regexp.MustCompile(`(?:^|[^0-9A-Za-z.])(v\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]*[0-9A-Za-z])?)`)
	asset := regexp.MustCompile(`syncer_v\d+\.\d+\.\d+[0-9A-Za-z._-]*`)
	workflowPin := regexp.MustCompile(`(?m)^\s*SYNCER_VERSION:\s*(\S+)`)

	files := []string{"Dockerfile", "README.md"}
	filepath.WalkDir(deployDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(repoRoot, path)
			files = append(files, rel)
		}
		return err
	})
	texts := map[string]string{}
	for _, name := range files {
		data, err := os.ReadFile(filepath.Join(repoRoot, name))
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		// A workflow names its pin once and uses it through the variable.
		if m := workflowPin.FindStringSubmatch(text); m != nil {
			text = strings.NewReplacer("${SYNCER_VERSION}", m[1], "$SYNCER_VERSION", m[1]).Replace(text)
		}
		texts[name] = text
		for i, line := range strings.Split(text, "\n") {
			for _, m := range pin.FindAllStringSubmatch(line, -1) {
				if m[1] != newest {
					t.Errorf("%s:%d pins %s, but CHANGELOG.md's newest version is %s", name, i+1, m[1], newest)
				}
			}
			for _, a := range asset.FindAllString(line, -1) {
				if a = strings.TrimRight(a, "."); !slices.Contains(assets, a) {
					t.Errorf("%s:%d names %s, which no release makes (a release of %s makes %v)", name, i+1, a, newest, assets)
				}
			}
		}
	}
	// Each recipe installs a pinned release and checks it against the release's checksums.
	for _, name := range []string{"README.md", "cloud-run.md", "crontab", "kubernetes/cronjob.yaml", "systemd/syncer.service",
		"github-actions/chat-plan.yml", "github-actions/chat-apply.yml"} {
		if name != "README.md" {
			name = filepath.Join("docs", "deploy", name)
		}
		text := texts[name]
		if !strings.Contains(text, newest) || !strings.Contains(text, sums) || !regexp.MustCompile(`sha256sum (-c|--check)\b`).MatchString(text) {
			t.Errorf("%s must pin %s and check it with sha256sum -c against %s", name, newest, sums)
		}
	}
}
