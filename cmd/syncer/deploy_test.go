package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/source"
)

const deployDir = "../../docs/deploy"

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

// checkConfig parses a config text the way syncer would, with its sources.
func checkConfig(t *testing.T, where, text string, sources map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range sources {
		os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
	}
	cfg, err := config.Parse(filepath.Join(dir, "config.yaml"), []byte(text))
	if err != nil {
		t.Errorf("%s: config: %v", where, err)
		return
	}
	if sources != nil {
		if _, err := source.Load(cfg.Sources); err != nil {
			t.Errorf("%s: sources: %v", where, err)
		}
	}
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
	checkConfig(t, "ConfigMap config.yaml", cmData["config.yaml"].(string), map[string]string{"members.yaml": cmData["members.yaml"].(string)})

	spec := cronJob["spec"].(map[string]any)
	if spec["concurrencyPolicy"] != "Forbid" {
		t.Errorf("concurrencyPolicy %v, want Forbid", spec["concurrencyPolicy"])
	}
	if _, err := config.ParseSchedule(spec["schedule"].(string)); err != nil {
		t.Errorf("schedule: %v", err)
	}
	jobSpec := spec["jobTemplate"].(map[string]any)["spec"].(map[string]any)
	pod := jobSpec["template"].(map[string]any)["spec"].(map[string]any)
	if pod["restartPolicy"] != "Never" {
		t.Errorf("restartPolicy %v, want Never", pod["restartPolicy"])
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
}

func TestSystemdAndCrontab(t *testing.T) {
	units := map[string]map[string]string{}
	for _, name := range []string{"syncer.service", "syncer.timer"} {
		data, err := os.ReadFile(filepath.Join(deployDir, "systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		section, keys := "", map[string]string{}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			switch {
			case line == "" || strings.HasPrefix(line, "#"):
			case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
				section = line
			default:
				k, v, ok := strings.Cut(line, "=")
				if !ok || section == "" {
					t.Errorf("%s: not a unit file line: %q", name, line)
				}
				keys[section+k] = v
			}
		}
		units[name] = keys
	}
	svc, timer := units["syncer.service"], units["syncer.timer"]
	if svc["[Service]Type"] != "oneshot" || timer["[Timer]OnCalendar"] == "" || timer["[Install]WantedBy"] != "timers.target" {
		t.Errorf("units %v", units)
	}
	exec := strings.Fields(svc["[Service]ExecStart"])
	if len(exec) < 2 || filepath.Base(exec[0]) != "syncer" {
		t.Fatalf("ExecStart %q", svc["[Service]ExecStart"])
	}
	checkInvocation(t, "syncer.service ExecStart", exec[1:])

	data, _ := os.ReadFile(filepath.Join(deployDir, "crontab"))
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
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
	}
}

func TestCloudRunRecipe(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(deployDir, "cloud-run.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	m := regexp.MustCompile(`--args (\S+)`).FindStringSubmatch(doc)
	if m == nil {
		t.Fatal("no --args in the Cloud Run job")
	}
	checkInvocation(t, "Cloud Run --args", strings.Split(m[1], ","))
	block := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindStringSubmatch(doc)
	if block == nil {
		t.Fatal("no config block")
	}
	checkConfig(t, "Cloud Run config", block[1], nil)
	for _, want := range []string{"roles/iam.serviceAccountTokenCreator", "roles/run.invoker", "gcloud scheduler jobs create http", "chat.memberships", "admin.directory.user.readonly"} {
		if !strings.Contains(doc, want) {
			t.Errorf("cloud-run.md lacks %q", want)
		}
	}
	dockerfile, _ := os.ReadFile("../../Dockerfile")
	if !strings.Contains(string(dockerfile), `ENTRYPOINT ["/syncer"]`) || !strings.Contains(string(dockerfile), "./cmd/syncer") {
		t.Error("the Dockerfile must build ./cmd/syncer and use it as the entrypoint")
	}
}
