package slo

import (
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// The types in this file are the versioned YAML shapes a team writes. They are
// decoded strictly (see decoder) and turned into the domain model by compile.

type specService struct {
	Service     string           `yaml:"service"`
	Description string           `yaml:"description"`
	Labels      specLabels       `yaml:"labels"`
	Links       specLinks        `yaml:"links"`
	Notify      specNotify       `yaml:"notify"`
	Policy      *specPolicy      `yaml:"policy"`
	Corrections []specCorrection `yaml:"corrections"`
	SLOs        []specObjective  `yaml:"slos"`
}

// specCorrection takes a time range out of SLIs (planned work, a known
// bad source), reviewed like any spec change.
type specCorrection struct {
	From    string   `yaml:"from"`
	To      string   `yaml:"to"`
	SLOs    []string `yaml:"slos"`
	CountAs string   `yaml:"count_as"`
	Reason  string   `yaml:"reason"`
	Author  string   `yaml:"author"`
}

// specPolicy is the service's error budget policy.
type specPolicy struct {
	FreezeBelow *float64 `yaml:"freeze_below"`
	AppliesTo   []string `yaml:"applies_to"`
}

type specLinks struct {
	Dashboard string `yaml:"dashboard"`
	Runbook   string `yaml:"runbook"`
}

type specNotify struct {
	Page      *specRoute     `yaml:"page"`
	Ticket    *specRoute     `yaml:"ticket"`
	Reminders []specReminder `yaml:"reminders"`
	Reports   []specReminder `yaml:"reports"`
	Timezone  string         `yaml:"timezone"`
	Language  string         `yaml:"language"`
}

type specRoute struct {
	Slack     string         `yaml:"slack"`
	Mention   []string       `yaml:"mention"`
	PagerDuty *specPagerDuty `yaml:"pagerduty"`
	Webhook   *specWebhook   `yaml:"webhook"`
}

type specPagerDuty struct {
	RoutingKeyEnv string `yaml:"routing_key_env"`
}

type specWebhook struct {
	URLEnv    string `yaml:"url_env"`
	SecretEnv string `yaml:"secret_env"`
}

type specReminder struct {
	Slack    string `yaml:"slack"`
	Schedule string `yaml:"schedule"`
	Timezone string `yaml:"timezone"`
	Language string `yaml:"language"`
}

type specObjective struct {
	Name        string         `yaml:"name"`
	Description string         `yaml:"description"`
	Objective   *float64       `yaml:"objective"`
	Window      string         `yaml:"window"`
	Timezone    string         `yaml:"timezone"`
	Budgeting   *specBudgeting `yaml:"budgeting"`
	SLI         specSLI        `yaml:"sli"`
	Alerting    specAlerting   `yaml:"alerting"`
	Labels      specLabels     `yaml:"labels"`
	Links       specLinks      `yaml:"links"`
	StaleAfter  model.Duration `yaml:"stale_after"`
}

type specBudgeting struct {
	Occurrences *struct{}      `yaml:"occurrences"`
	Timeslices  *specTimeslice `yaml:"timeslices"`
}

type specTimeslice struct {
	Slice     model.Duration `yaml:"slice"`
	GoodAbove *float64       `yaml:"good_above"`
	MinEvents *int64         `yaml:"min_events"`
}

type specSLI struct {
	ALB        *specALB        `yaml:"alb"`
	Prometheus *specPrometheus `yaml:"prometheus"`
}

type specALB struct {
	LoadBalancer      string       `yaml:"load_balancer"`
	Hosts             []string     `yaml:"hosts"`
	Paths             []string     `yaml:"paths"`
	ExcludePaths      []string     `yaml:"exclude_paths"`
	ExcludeUserAgents []string     `yaml:"exclude_user_agents"`
	RequestTypes      []string     `yaml:"request_types"`
	Methods           []string     `yaml:"methods"`
	TargetGroup       string       `yaml:"target_group"`
	BadStatus         []string     `yaml:"bad_status"`
	ExcludeStatus     []string     `yaml:"exclude_status"`
	Latency           *specLatency `yaml:"latency"`
}

type specLatency struct {
	Threshold model.Duration `yaml:"threshold"`
	Measure   string         `yaml:"measure"`
	// ClientClosed is slow (default) or exclude: what a 460 is to latency.
	ClientClosed string `yaml:"client_closed"`
}

type specPrometheus struct {
	ErrorRatio string         `yaml:"error_ratio"`
	Good       string         `yaml:"good"`
	Bad        string         `yaml:"bad"`
	Total      string         `yaml:"total"`
	Histogram  *specHistogram `yaml:"histogram"`
	By         []string       `yaml:"by"`
}

// specHistogram is a latency SLI over a Prometheus histogram: good events
// are the observations in the bucket at the threshold.
type specHistogram struct {
	Metric    string         `yaml:"metric"`
	Selector  string         `yaml:"selector"`
	Threshold model.Duration `yaml:"threshold"`
}

type specAlerting struct {
	Windows         specWindows     `yaml:"windows"`
	MinEvents       *int64          `yaml:"min_events"`
	Page            specSwitch      `yaml:"page"`
	Ticket          specSwitch      `yaml:"ticket"`
	BudgetExhausted specSwitch      `yaml:"budget_exhausted"`
	Repeat          *specRepeat     `yaml:"repeat"`
	Cooldown        *model.Duration `yaml:"cooldown"`
	// Labels and Annotations go on every alert of the SLO; page: and
	// ticket: add their own on top.
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type specRepeat struct {
	Page   model.Duration `yaml:"page"`
	Ticket model.Duration `yaml:"ticket"`
}

type specSwitch struct {
	Disable     bool              `yaml:"disable"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// specWindows is either the word `default` or a list of alert windows.
type specWindows struct {
	Default bool
	List    []specAlertWindow
	set     bool
}

type specAlertWindow struct {
	Name          string         `yaml:"name"`
	Severity      string         `yaml:"severity"`
	Long          model.Duration `yaml:"long"`
	Short         model.Duration `yaml:"short"`
	BudgetPercent *float64       `yaml:"budget_percent"`
}

func (w *specWindows) decodeNode(d *decoder, n *yaml.Node, path string) {
	w.set = true
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		if n.Value != "default" {
			d.errorf(n, "%s: expected `default` or a list of windows, got %q", path, n.Value)
			return
		}
		w.Default = true
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s: expected `default` or a list of windows, got %s", path, describe(n))
		return
	}
	w.List = make([]specAlertWindow, len(n.Content))
	for i, item := range n.Content {
		d.decodeValue(item, &w.List[i], indexPath(path, i))
	}
}

// specLabels keeps labels in file order with the position of each key, so a
// bad label name is reported where it is written.
type specLabels []specLabel

type specLabel struct {
	Name, Value string
	Pos         Pos
}

func (ls *specLabels) decodeNode(d *decoder, n *yaml.Node, path string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: expected a mapping of label names to values, got %s", path, describe(n))
		return
	}
	first := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if prev, dup := first[k.Value]; dup {
			d.errorf(k, "%s: duplicate key %q (first at line %d)", join(path, k.Value), k.Value, prev.Line)
			continue
		}
		first[k.Value] = k
		if v.Kind != yaml.ScalarNode || isNull(v) {
			d.errorf(v, "%s: label value must be a string, got %s", join(path, k.Value), describe(v))
			continue
		}
		*ls = append(*ls, specLabel{Name: k.Value, Value: v.Value, Pos: d.pos(k)})
	}
}
