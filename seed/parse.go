package seed

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rekey-dev/rekey"
)

// maxNodes bounds the work of reading one file, aliases expanded: a few
// lines of YAML aliases can otherwise stand for billions of nodes.
const maxNodes = 200_000

// maxProblems bounds the problems listed for one file.
const maxProblems = 200

// Parse reads a seed file (YAML, or JSON, which YAML reads too). It checks
// everything that needs no stored state and returns Errors listing every
// problem with its line, or the file.
func Parse(name string, data []byte) (*File, error) {
	p := &parser{name: name}
	f := p.file(data)
	if n := len(p.errs); n > maxProblems {
		p.errs = append(p.errs[:maxProblems], Problem{File: name, Message: fmt.Sprintf("and %d more problems", n-maxProblems)})
	}
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return f, nil
}

type parser struct {
	name    string
	errs    Errors
	nodes   int
	tooMany bool // the node budget is spent (reported once)
}

// spent reports whether the node budget is spent, recording it once.
func (p *parser) spent() bool {
	if p.nodes <= maxNodes {
		return false
	}
	if !p.tooMany {
		p.tooMany = true
		p.errorf(nil, "", "the file is too large once its aliases are expanded (more than %d values); write fewer aliases", maxNodes)
	}
	return true
}

func (p *parser) errorf(n *yaml.Node, path, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, Problem{File: p.name, Line: line, Path: path, Message: fmt.Sprintf(format, args...)})
}

// domain records a domain validation error under path.
func (p *parser) domain(n *yaml.Node, path string, err error) {
	if err != nil {
		p.errorf(n, path, "%s", rekey.ErrorMessage(err))
	}
}

// resolve follows aliases and counts the nodes visited.
func (p *parser) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	p.nodes++
	return n
}

func (p *parser) file(data []byte) *File {
	f := &File{Name: p.name, Subscription: DefaultSubscription, ResourceGroup: DefaultResourceGroup}
	if len(data) > MaxFileSize {
		p.errorf(nil, "", "the file is larger than %d bytes", MaxFileSize)
		return nil
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errorf(nil, "", "the file is empty; see examples/seed.yaml")
		} else {
			p.syntax(err)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errorf(&extra, "", "a seed file holds one document; remove this '---' and what follows, or apply it as another file")
		return nil
	} else if !errors.Is(err, io.EOF) {
		p.syntax(err)
		return nil
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	p.mapping(root, "", fields{
		"subscription": func(v *yaml.Node, path string) {
			if s, ok := p.str(v, path); ok {
				f.Subscription = s
				p.domain(v, path, rekey.ValidateSubscription(s))
			}
		},
		"resourceGroup": func(v *yaml.Node, path string) {
			if s, ok := p.str(v, path); ok {
				f.ResourceGroup = s
				p.domain(v, path, rekey.ValidateResourceGroup(s))
			}
		},
		"workspaces": func(v *yaml.Node, path string) {
			p.list(v, path, func(n *yaml.Node, path string) { f.Workspaces = append(f.Workspaces, p.workspace(f, n, path)) })
		},
		"endpoints": func(v *yaml.Node, path string) {
			p.list(v, path, func(n *yaml.Node, path string) { f.Endpoints = append(f.Endpoints, p.endpoint(f, n, path)) })
		},
		"accounts": func(v *yaml.Node, path string) {
			p.list(v, path, func(n *yaml.Node, path string) { f.Accounts = append(f.Accounts, p.account(f, n, path)) })
		},
		"servicePrincipals": func(v *yaml.Node, path string) {
			p.list(v, path, func(n *yaml.Node, path string) {
				f.ServicePrincipals = append(f.ServicePrincipals, p.servicePrincipal(n, path))
			})
		},
		// Reserved for the authorization issue: role assignments are
		// declared here once rekey checks roles. Until then a file that
		// declares one is refused, rather than applied without it.
		"roleAssignments": func(v *yaml.Node, path string) {
			if v.Kind == yaml.SequenceNode && len(v.Content) == 0 || v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				return
			}
			p.errorf(v, path, "role assignments are not supported yet (rekey does not check roles); remove them, or leave the list empty")
		},
	})
	p.unique(f)
	sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
	return f
}

// syntax records a YAML syntax error, which names its own line.
func (p *parser) syntax(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, tail, ok := strings.Cut(rest, ": "); ok {
			if l, err := strconv.Atoi(n); err == nil {
				line, msg = l, tail
			}
		}
	}
	p.errs = append(p.errs, Problem{File: p.name, Line: line, Message: "not valid YAML or JSON: " + msg})
}

// fields maps a mapping's known keys to what reads their values.
type fields map[string]func(v *yaml.Node, path string)

// mapping reads a mapping node: every key must be known, and appear once.
func (p *parser) mapping(n *yaml.Node, path string, known fields) bool {
	n = p.resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		p.errorf(n, path, "want a mapping (name: value lines, or a JSON object)")
		return false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := p.resolve(n.Content[i]), p.resolve(n.Content[i+1])
		if p.spent() {
			return false
		}
		kp := join(path, k.Value)
		fn, ok := known[k.Value]
		switch {
		case k.Kind != yaml.ScalarNode:
			p.errorf(k, path, "keys must be plain names")
		case !ok:
			p.errorf(k, kp, "unknown field; known fields: %s", strings.Join(sortedKeys(known), ", "))
		case seen[k.Value]:
			p.errorf(k, kp, "given twice")
		default:
			seen[k.Value] = true
			fn(v, kp)
		}
	}
	return true
}

// list reads a sequence node, calling fn for each item.
func (p *parser) list(n *yaml.Node, path string, fn func(n *yaml.Node, path string)) {
	n = p.resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, path, "want a list (lines starting with '- ', or a JSON array)")
		return
	}
	for i, item := range n.Content {
		if p.spent() {
			return
		}
		fn(p.resolve(item), fmt.Sprintf("%s[%d]", path, i))
	}
}

// str reads a scalar as a string.
func (p *parser) str(n *yaml.Node, path string) (string, bool) {
	n = p.resolve(n)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errorf(n, path, "want a string")
		return "", false
	}
	return n.Value, true
}

// optStr reads an optional string setting.
func (p *parser) optStr(n *yaml.Node, path string) *string {
	if s, ok := p.str(n, path); ok {
		return &s
	}
	return nil
}

// strMap reads a mapping of names to strings, such as tags.
func (p *parser) strMap(n *yaml.Node, path string) map[string]string {
	n = p.resolve(n)
	if n.Kind != yaml.MappingNode {
		p.errorf(n, path, "want a mapping of names to strings")
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := p.resolve(n.Content[i]), p.resolve(n.Content[i+1])
		kp := join(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, path, "keys must be plain names")
			continue
		}
		if _, dup := out[k.Value]; dup {
			p.errorf(k, kp, "given twice")
			continue
		}
		if s, ok := p.str(v, kp); ok {
			out[k.Value] = s
		}
	}
	return out
}

// weights reads a traffic map: deployment names to percentages.
func (p *parser) weights(n *yaml.Node, path string, max int) map[string]int32 {
	n = p.resolve(n)
	if n.Kind != yaml.MappingNode {
		p.errorf(n, path, "want a mapping of deployment names to percentages, e.g. {blue: 90, green: 10}")
		return nil
	}
	out := map[string]int32{}
	sum := 0
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := p.resolve(n.Content[i]), p.resolve(n.Content[i+1])
		kp := join(path, k.Value)
		w, err := strconv.Atoi(v.Value)
		if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || err != nil || w < 0 || w > 100 {
			p.errorf(v, kp, "want a whole percentage from 0 to 100")
			continue
		}
		if _, dup := out[k.Value]; dup {
			p.errorf(k, kp, "given twice")
			continue
		}
		out[k.Value], sum = int32(w), sum+w
	}
	if max == 100 && sum != 0 && sum != 100 {
		p.errorf(n, path, "the percentages must add up to 100 (they add up to %d)", sum)
	}
	if max == 50 && sum > 50 {
		p.errorf(n, path, "the percentages must add up to at most 50 (they add up to %d)", sum)
	}
	return out
}

// keyPair reads chosen keys under the two given names.
func (p *parser) keyPair(n *yaml.Node, path, first, second string, check func(string) error) KeyPair {
	var kp KeyPair
	var at *yaml.Node
	p.mapping(n, path, fields{
		first: func(v *yaml.Node, path string) {
			if s, ok := p.str(v, path); ok {
				at = v
				if err := check(s); err != nil {
					p.domain(v, path, err)
				} else {
					kp.Primary = s
				}
			}
		},
		second: func(v *yaml.Node, path string) {
			if s, ok := p.str(v, path); ok {
				if err := check(s); err != nil {
					p.domain(v, path, err)
				} else {
					kp.Secondary = s
				}
			}
		},
	})
	if kp.Primary != "" && kp.Primary == kp.Secondary {
		p.errorf(at, path, "%s and %s must differ, or rotation could not replace one without the other", first, second)
	}
	return kp
}

func (p *parser) workspace(f *File, n *yaml.Node, path string) Workspace {
	w := Workspace{At: At{Line: n.Line, Path: path}}
	if !p.mapping(n, path, fields{
		"name":         func(v *yaml.Node, path string) { w.Name, _ = p.str(v, path) },
		"location":     func(v *yaml.Node, path string) { w.Location, _ = p.str(v, path) },
		"tags":         func(v *yaml.Node, path string) { w.Tags = p.strMap(v, path) },
		"friendlyName": func(v *yaml.Node, path string) { w.FriendlyName = p.optStr(v, path) },
		"description":  func(v *yaml.Node, path string) { w.Description = p.optStr(v, path) },
	}) {
		return w
	}
	p.name_(n, path, w.Name, rekey.WorkspaceID{Subscription: f.Subscription, ResourceGroup: f.ResourceGroup, Name: w.Name}.Validate)
	if strings.TrimSpace(w.Location) == "" {
		p.errorf(n, join(path, "location"), "required, e.g. eastus")
	}
	return w
}

// name_ checks a required name with the domain's rule for it.
func (p *parser) name_(n *yaml.Node, path, name string, validate func() error) {
	if name == "" {
		p.errorf(n, join(path, "name"), "required")
		return
	}
	p.domain(n, join(path, "name"), validate())
}

func (p *parser) endpoint(f *File, n *yaml.Node, path string) Endpoint {
	e := Endpoint{At: At{Line: n.Line, Path: path}}
	var keysNode *yaml.Node
	if !p.mapping(n, path, fields{
		"name":      func(v *yaml.Node, path string) { e.Name, _ = p.str(v, path) },
		"workspace": func(v *yaml.Node, path string) { e.Workspace, _ = p.str(v, path) },
		"location":  func(v *yaml.Node, path string) { e.Location, _ = p.str(v, path) },
		"authMode": func(v *yaml.Node, path string) {
			if s, ok := p.str(v, path); ok {
				if m, err := rekey.ParseAuthMode(s); err != nil {
					p.errorf(v, path, "want Key, AMLToken or AADToken")
				} else {
					e.AuthMode = m
				}
			}
		},
		"description": func(v *yaml.Node, path string) { e.Description = p.optStr(v, path) },
		"tags":        func(v *yaml.Node, path string) { e.Tags = p.strMap(v, path) },
		"gracePeriod": func(v *yaml.Node, path string) {
			if e.GracePeriod = p.optStr(v, path); e.GracePeriod != nil {
				p.grace(v, path, *e.GracePeriod)
			}
		},
		"keys": func(v *yaml.Node, path string) {
			keysNode = v
			e.Keys = p.keyPair(v, path, "primary", "secondary", func(s string) error { return rekey.ValidateKeyValue("key", s) })
		},
		"deployments": func(v *yaml.Node, path string) {
			p.list(v, path, func(n *yaml.Node, path string) { e.Deployments = append(e.Deployments, p.deployment(n, path)) })
		},
		"traffic":       func(v *yaml.Node, path string) { e.Traffic = p.weights(v, path, 100) },
		"mirrorTraffic": func(v *yaml.Node, path string) { e.Mirror = p.weights(v, path, 50) },
	}) {
		return e
	}
	if e.Workspace == "" {
		p.errorf(n, join(path, "workspace"), "required: the name of the workspace the endpoint belongs to")
	}
	id := rekey.EndpointID{Workspace: rekey.WorkspaceID{Subscription: f.Subscription, ResourceGroup: f.ResourceGroup, Name: e.Workspace}, Name: e.Name}
	p.name_(n, path, e.Name, id.Validate)
	if keysNode != nil && e.AuthMode != "" && e.AuthMode != rekey.AuthKey {
		p.errorf(keysNode, join(path, "keys"), "only endpoints with authMode Key use keys; remove keys or set authMode: Key")
	}
	names := map[string]bool{}
	for _, d := range e.Deployments {
		if names[strings.ToLower(d.Name)] {
			p.errorf(nodeAt(d.Line), d.Path, "a second deployment named '%s' in this endpoint", d.Name)
		}
		names[strings.ToLower(d.Name)] = true
		if d.Name != "" {
			p.domain(nodeAt(d.Line), join(d.Path, "name"), rekey.DeploymentID{Endpoint: id, Name: d.Name}.Validate())
		}
	}
	// Whether traffic names existing deployments needs the store (a
	// deployment may have been created through an SDK): the ARM handler
	// checks it when the file is applied.
	for name, w := range e.Mirror {
		if w > 0 && e.Traffic[name] > 0 {
			p.errorf(n, join(path, "mirrorTraffic"), "deployment '%s' cannot receive mirrored traffic while it receives live traffic", name)
		}
	}
	return e
}

func nodeAt(line int) *yaml.Node { return &yaml.Node{Line: line} }

func (p *parser) grace(v *yaml.Node, path, s string) {
	if err := checkGrace(s); err != nil {
		p.errorf(v, path, "want a duration from 0s to 24h such as 30s, 15m or 1h30m, or \"\" to remove it")
	}
}

func (p *parser) deployment(n *yaml.Node, path string) Deployment {
	d := Deployment{At: At{Line: n.Line, Path: path}}
	if !p.mapping(n, path, fields{
		"name": func(v *yaml.Node, path string) { d.Name, _ = p.str(v, path) },
		"upstream": func(v *yaml.Node, path string) {
			if s, ok := p.str(v, path); ok {
				d.Upstream = s
				if rekey.ValidateUpstream(s) != nil {
					p.errorf(v, path, "want an absolute http(s) URL without query, fragment or credentials, e.g. http://127.0.0.1:8000")
				}
			}
		},
		"model":        func(v *yaml.Node, path string) { d.Model = p.optStr(v, path) },
		"instanceType": func(v *yaml.Node, path string) { d.InstanceType = p.optStr(v, path) },
		"description":  func(v *yaml.Node, path string) { d.Description = p.optStr(v, path) },
		"tags":         func(v *yaml.Node, path string) { d.Tags = p.strMap(v, path) },
	}) {
		return d
	}
	if d.Name == "" {
		p.errorf(n, join(path, "name"), "required")
	}
	if d.Upstream == "" {
		p.errorf(n, join(path, "upstream"), "required: the URL the gateway forwards this deployment's requests to, e.g. http://127.0.0.1:8000")
	}
	return d
}

func (p *parser) account(f *File, n *yaml.Node, path string) Account {
	a := Account{At: At{Line: n.Line, Path: path}, Kind: rekey.KindQnAMaker, SKU: "S0"}
	var endpointKeys, runtime *yaml.Node
	if !p.mapping(n, path, fields{
		"name":     func(v *yaml.Node, path string) { a.Name, _ = p.str(v, path) },
		"kind":     func(v *yaml.Node, path string) { a.Kind, _ = p.str(v, path) },
		"location": func(v *yaml.Node, path string) { a.Location, _ = p.str(v, path) },
		"sku":      func(v *yaml.Node, path string) { a.SKU, _ = p.str(v, path) },
		"tags":     func(v *yaml.Node, path string) { a.Tags = p.strMap(v, path) },
		"gracePeriod": func(v *yaml.Node, path string) {
			if a.GracePeriod = p.optStr(v, path); a.GracePeriod != nil {
				p.grace(v, path, *a.GracePeriod)
			}
		},
		"qnaRuntimeEndpoint": func(v *yaml.Node, path string) {
			runtime = v
			if s, ok := p.str(v, path); ok {
				a.QnARuntimeEndpoint = s
				if rekey.ValidateQnARuntimeEndpoint(s) != nil {
					p.errorf(v, path, "want an absolute http(s) URL of the QnA runtime without credentials, query or fragment, e.g. http://127.0.0.1:9000")
				}
			}
		},
		"keys": func(v *yaml.Node, path string) {
			a.Keys = p.keyPair(v, path, "key1", "key2", func(s string) error { return rekey.ValidateKeyValue("key", s) })
		},
		"endpointKeys": func(v *yaml.Node, path string) {
			endpointKeys = v
			a.EndpointKeys = p.keyPair(v, path, "primary", "secondary", func(s string) error { return rekey.ValidateKeyValue("key", s) })
		},
	}) {
		return a
	}
	p.name_(n, path, a.Name, rekey.AccountID{Subscription: f.Subscription, ResourceGroup: f.ResourceGroup, Name: a.Name}.Validate)
	if strings.TrimSpace(a.Location) == "" {
		p.errorf(n, join(path, "location"), "required, e.g. westus")
	}
	if strings.TrimSpace(a.SKU) == "" {
		p.errorf(n, join(path, "sku"), "want a SKU name such as S0 or F0")
	}
	qna := strings.EqualFold(a.Kind, rekey.KindQnAMaker)
	switch {
	case qna && a.QnARuntimeEndpoint == "" && runtime == nil:
		p.errorf(n, join(path, "qnaRuntimeEndpoint"), "required for a QnAMaker account: the URL of the QnA runtime that answers generateAnswer")
	case !qna && endpointKeys != nil:
		p.errorf(endpointKeys, join(path, "endpointKeys"), "only QnAMaker accounts have endpoint keys")
	}
	if a.GracePeriod != nil {
		if _, ok := a.Tags[rekey.GracePeriodProperty]; ok {
			p.errorf(n, join(path, "gracePeriod"), "given twice: also as the tag %s; keep one", rekey.GracePeriodProperty)
		}
	}
	p.domain(n, join(path, "tags"), rekey.CheckGracePeriod(join(path, "tags"), a.Tags))
	return a
}

func (p *parser) servicePrincipal(n *yaml.Node, path string) ServicePrincipal {
	sp := ServicePrincipal{At: At{Line: n.Line, Path: path}}
	if !p.mapping(n, path, fields{
		"appId": func(v *yaml.Node, path string) {
			if s, ok := p.str(v, path); ok {
				sp.AppID = strings.ToLower(s)
				if !rekey.IsGUID(s) {
					p.errorf(v, path, "want a GUID such as 0a1b2c3d-1234-4abc-8def-0123456789ab")
				}
			}
		},
		"displayName": func(v *yaml.Node, path string) {
			if s, ok := p.str(v, path); ok {
				sp.DisplayName = s
				p.domain(v, path, rekey.ValidateDisplayName(s))
			}
		},
		"secret": func(v *yaml.Node, path string) {
			if s, ok := p.str(v, path); ok {
				sp.Secret = s
				p.domain(v, path, rekey.ValidateKeyValue("client secret", s))
			}
		},
	}) {
		return sp
	}
	if sp.AppID == "" {
		p.errorf(n, join(path, "appId"), "required: the client id (a GUID) your code signs in with")
	}
	if sp.DisplayName == "" {
		p.errorf(n, join(path, "displayName"), "required")
	}
	if sp.Secret == "" {
		p.errorf(n, join(path, "secret"), "required: rekey keeps only a digest of a secret, so a generated one could not be read back; use `rekey sp create` for that")
	}
	return sp
}

// unique reports a resource declared twice.
func (p *parser) unique(f *File) {
	seen := map[string]At{}
	check := func(kind, name string, at At) {
		if name == "" {
			return
		}
		k := kind + "/" + strings.ToLower(name)
		if first, dup := seen[k]; dup {
			p.errs = append(p.errs, Problem{File: p.name, Line: at.Line, Path: at.Path, Message: fmt.Sprintf("%s '%s' is already declared at line %d", kind, name, first.Line)})
			return
		}
		seen[k] = at
	}
	for _, w := range f.Workspaces {
		check("workspace", w.Name, w.At)
	}
	// Endpoint names are unique on the whole server (they name the
	// gateway's prefix), whatever their workspace.
	for _, e := range f.Endpoints {
		check("endpoint", e.Name, e.At)
	}
	for _, a := range f.Accounts {
		check("account", a.Name, a.At)
	}
	for _, sp := range f.ServicePrincipals {
		check("service principal", sp.AppID, sp.At)
	}
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
