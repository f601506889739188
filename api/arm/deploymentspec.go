package arm

import (
	"regexp"
	"strings"

	"github.com/rekey-dev/rekey"
)

// The OnlineDeployment properties beyond what rekey acts on, as the
// published Managed and Kubernetes variants name them (mfe.json,
// 2024-04-01). One struct serves requests and responses: a field the
// caller left out is nil, and a response shows Azure's default or null.

type codeConfigurationJSON struct {
	CodeID        *string `json:"codeId"`
	ScoringScript *string `json:"scoringScript"`
}

type requestSettingsJSON struct {
	MaxQueueWait                     *string `json:"maxQueueWait"`
	RequestTimeout                   *string `json:"requestTimeout"`
	MaxConcurrentRequestsPerInstance *int32  `json:"maxConcurrentRequestsPerInstance"`
}

type probeJSON struct {
	FailureThreshold *int32  `json:"failureThreshold"`
	SuccessThreshold *int32  `json:"successThreshold"`
	Timeout          *string `json:"timeout"`
	Period           *string `json:"period"`
	InitialDelay     *string `json:"initialDelay"`
}

// scaleSettingsJSON is OnlineScaleSettings, discriminated by scaleType;
// the other fields belong to TargetUtilization only.
type scaleSettingsJSON struct {
	ScaleType                   *string `json:"scaleType"`
	MinInstances                *int32  `json:"minInstances,omitempty"`
	MaxInstances                *int32  `json:"maxInstances,omitempty"`
	PollingInterval             *string `json:"pollingInterval,omitempty"`
	TargetUtilizationPercentage *int32  `json:"targetUtilizationPercentage,omitempty"`
}

type containerResourcesJSON struct {
	ContainerResourceLimits   *containerResourceSettingsJSON `json:"containerResourceLimits"`
	ContainerResourceRequests *containerResourceSettingsJSON `json:"containerResourceRequests"`
}

type containerResourceSettingsJSON struct {
	CPU    *string `json:"cpu"`
	GPU    *string `json:"gpu"`
	Memory *string `json:"memory"`
}

type dataCollectorJSON struct {
	Collections    map[string]collectionJSON `json:"collections"`
	RequestLogging *requestLoggingJSON       `json:"requestLogging"`
	RollingRate    *string                   `json:"rollingRate"`
}

type collectionJSON struct {
	ClientID           *string  `json:"clientId"`
	DataCollectionMode *string  `json:"dataCollectionMode"`
	DataID             *string  `json:"dataId"`
	SamplingRate       *float64 `json:"samplingRate"`
}

type requestLoggingJSON struct {
	CaptureHeaders []string `json:"captureHeaders"`
}

// deploymentSpecIn is the part of an OnlineDeployment body's properties
// that becomes a rekey.DeploymentSpec.
type deploymentSpecIn struct {
	CodeConfiguration             *codeConfigurationJSON  `json:"codeConfiguration"`
	EnvironmentID                 *string                 `json:"environmentId"`
	EnvironmentVariables          map[string]string       `json:"environmentVariables"`
	ModelMountPath                *string                 `json:"modelMountPath"`
	AppInsightsEnabled            *bool                   `json:"appInsightsEnabled"`
	EgressPublicNetworkAccess     *string                 `json:"egressPublicNetworkAccess"`
	RequestSettings               *requestSettingsJSON    `json:"requestSettings"`
	LivenessProbe                 *probeJSON              `json:"livenessProbe"`
	ReadinessProbe                *probeJSON              `json:"readinessProbe"`
	ScaleSettings                 *scaleSettingsJSON      `json:"scaleSettings"`
	DataCollector                 *dataCollectorJSON      `json:"dataCollector"`
	PrivateNetworkConnection      *bool                   `json:"privateNetworkConnection"`
	ContainerResourceRequirements *containerResourcesJSON `json:"containerResourceRequirements"`
}

// The defaults Azure ML fills in, as its recorded responses show them
// (azure-ai-ml and az ml test recordings). Where the recording and the
// spec disagree the recording wins: the spec's maxQueueWait default is
// PT0.5S, the service answers PT0S. TargetUtilization's come from the spec.
var (
	defaultRequestSettings = rekey.RequestSettings{MaxConcurrentRequestsPerInstance: ptr[int32](1), MaxQueueWait: ptr("PT0S"), RequestTimeout: ptr("PT5S")}
	defaultProbe           = rekey.ProbeSettings{FailureThreshold: ptr[int32](30), SuccessThreshold: ptr[int32](1), Timeout: ptr("PT2S"), Period: ptr("PT10S"), InitialDelay: ptr("PT10S")}
	defaultTargetScale     = rekey.ScaleSettings{MinInstances: ptr[int32](1), MaxInstances: ptr[int32](1), PollingInterval: ptr("PT1S"), TargetUtilizationPercentage: ptr[int32](70)}
)

var (
	scaleTypes      = []string{"Default", "TargetUtilization"}
	enabledDisabled = []string{"Enabled", "Disabled"}
	rollingRates    = []string{"Year", "Month", "Day", "Hour", "Minute"}
	// isoDuration is an ISO 8601 duration such as PT5S, PT0.5S or P1DT2H.
	isoDuration = regexp.MustCompile(`^P(?:\d+(?:\.\d+)?[YMWD])*(?:T(?:\d+(?:\.\d+)?[HMS])+)?$`)
)

func ptr[T any](v T) *T { return &v }

// first returns v, or def when v is nil.
func first[T any](v, def *T) *T {
	if v != nil {
		return v
	}
	return def
}

// enumField checks an optional enum value and returns its canonical
// spelling, def when absent.
func enumField(field string, v *string, allowed []string, def string) (string, error) {
	if v == nil {
		return def, nil
	}
	if c := matchEnum(*v, allowed); c != "" {
		return c, nil
	}
	return "", rekey.Errorf(rekey.Invalid, "The value '%s' of %s is not valid. Allowed values: %s.", rekey.Clip(*v, 60), field, strings.Join(allowed, ", "))
}

// durationField checks an optional ISO 8601 duration.
func durationField(field string, v *string) error {
	if v == nil || (*v != "P" && *v != "PT" && isoDuration.MatchString(*v)) {
		return nil
	}
	return rekey.Errorf(rekey.Invalid, "The value '%s' of %s is not an ISO 8601 duration such as PT5S or PT0.5S.", rekey.Clip(*v, 60), field)
}

// specFrom checks the spec part of a deployment body and fills in Azure's
// defaults. computeType is the body's canonical endpointComputeType.
func specFrom(in deploymentSpecIn, computeType string) (rekey.DeploymentSpec, error) {
	var (
		s   rekey.DeploymentSpec
		err error
	)
	if c := in.CodeConfiguration; c != nil {
		if c.ScoringScript == nil || strings.TrimSpace(*c.ScoringScript) == "" {
			return s, rekey.Errorf(rekey.Invalid, "The property 'properties.codeConfiguration.scoringScript' is required when codeConfiguration is given: the script that scores requests, e.g. score.py.")
		}
		s.CodeConfiguration = &rekey.CodeConfiguration{CodeID: c.CodeID, ScoringScript: c.ScoringScript}
	}
	s.EnvironmentID, s.EnvironmentVariables, s.ModelMountPath = in.EnvironmentID, in.EnvironmentVariables, in.ModelMountPath
	if in.AppInsightsEnabled != nil {
		s.AppInsightsEnabled = *in.AppInsightsEnabled
	}
	if in.PrivateNetworkConnection != nil {
		s.PrivateNetworkConnection = *in.PrivateNetworkConnection
	}
	if s.EgressPublicNetworkAccess, err = enumField("properties.egressPublicNetworkAccess", in.EgressPublicNetworkAccess, enabledDisabled, "Enabled"); err != nil {
		return s, err
	}

	s.RequestSettings = defaultRequestSettings
	if rs := in.RequestSettings; rs != nil {
		s.RequestSettings = rekey.RequestSettings{
			MaxConcurrentRequestsPerInstance: first(rs.MaxConcurrentRequestsPerInstance, defaultRequestSettings.MaxConcurrentRequestsPerInstance),
			MaxQueueWait:                     first(rs.MaxQueueWait, defaultRequestSettings.MaxQueueWait),
			RequestTimeout:                   first(rs.RequestTimeout, defaultRequestSettings.RequestTimeout),
		}
	}
	for field, v := range map[string]*string{"properties.requestSettings.maxQueueWait": s.RequestSettings.MaxQueueWait, "properties.requestSettings.requestTimeout": s.RequestSettings.RequestTimeout} {
		if err := durationField(field, v); err != nil {
			return s, err
		}
	}
	if s.LivenessProbe, err = probeFrom("properties.livenessProbe", in.LivenessProbe); err != nil {
		return s, err
	}
	if s.ReadinessProbe, err = probeFrom("properties.readinessProbe", in.ReadinessProbe); err != nil {
		return s, err
	}
	if s.ScaleSettings, err = scaleFrom(in.ScaleSettings); err != nil {
		return s, err
	}
	if s.DataCollector, err = dataCollectorFrom(in.DataCollector); err != nil {
		return s, err
	}
	if cr := in.ContainerResourceRequirements; cr != nil {
		if computeType != "Kubernetes" {
			return s, rekey.Errorf(rekey.Invalid, "properties.containerResourceRequirements applies to Kubernetes deployments only; this deployment's endpointComputeType is '%s'.", computeType)
		}
		s.ContainerResources = &rekey.ContainerResourceRequirements{Limits: resourcesFrom(cr.ContainerResourceLimits), Requests: resourcesFrom(cr.ContainerResourceRequests)}
	}
	return s, nil
}

func probeFrom(field string, p *probeJSON) (rekey.ProbeSettings, error) {
	if p == nil {
		return defaultProbe, nil
	}
	out := rekey.ProbeSettings{
		FailureThreshold: first(p.FailureThreshold, defaultProbe.FailureThreshold),
		SuccessThreshold: first(p.SuccessThreshold, defaultProbe.SuccessThreshold),
		Timeout:          first(p.Timeout, defaultProbe.Timeout),
		Period:           first(p.Period, defaultProbe.Period),
		InitialDelay:     first(p.InitialDelay, defaultProbe.InitialDelay),
	}
	for name, v := range map[string]*string{"timeout": out.Timeout, "period": out.Period, "initialDelay": out.InitialDelay} {
		if err := durationField(field+"."+name, v); err != nil {
			return out, err
		}
	}
	return out, nil
}

func scaleFrom(in *scaleSettingsJSON) (rekey.ScaleSettings, error) {
	if in == nil {
		return rekey.ScaleSettings{ScaleType: ptr("Default")}, nil
	}
	if in.ScaleType == nil {
		return rekey.ScaleSettings{}, rekey.Errorf(rekey.Invalid, "The property 'properties.scaleSettings.scaleType' is required when scaleSettings is given. Allowed values: %s.", strings.Join(scaleTypes, ", "))
	}
	t, err := enumField("properties.scaleSettings.scaleType", in.ScaleType, scaleTypes, "")
	if err != nil {
		return rekey.ScaleSettings{}, err
	}
	if t == "Default" {
		return rekey.ScaleSettings{ScaleType: &t}, nil
	}
	out := rekey.ScaleSettings{
		ScaleType:                   &t,
		MinInstances:                first(in.MinInstances, defaultTargetScale.MinInstances),
		MaxInstances:                first(in.MaxInstances, defaultTargetScale.MaxInstances),
		PollingInterval:             first(in.PollingInterval, defaultTargetScale.PollingInterval),
		TargetUtilizationPercentage: first(in.TargetUtilizationPercentage, defaultTargetScale.TargetUtilizationPercentage),
	}
	if *out.MinInstances > *out.MaxInstances {
		return out, rekey.Errorf(rekey.Invalid, "properties.scaleSettings.minInstances (%d) must not exceed maxInstances (%d).", *out.MinInstances, *out.MaxInstances)
	}
	return out, durationField("properties.scaleSettings.pollingInterval", out.PollingInterval)
}

func dataCollectorFrom(in *dataCollectorJSON) (*rekey.DataCollector, error) {
	if in == nil {
		return nil, nil
	}
	if in.Collections == nil {
		return nil, rekey.Errorf(rekey.Invalid, "The property 'properties.dataCollector.collections' is required when dataCollector is given, e.g. {\"model_inputs\": {\"dataCollectionMode\": \"Enabled\"}}.")
	}
	out := &rekey.DataCollector{Collections: map[string]rekey.Collection{}}
	var err error
	if out.RollingRate, err = enumField("properties.dataCollector.rollingRate", in.RollingRate, rollingRates, "Hour"); err != nil {
		return nil, err
	}
	if in.RequestLogging != nil {
		out.RequestLogging, out.CaptureHeaders = true, in.RequestLogging.CaptureHeaders
	}
	for name, c := range in.Collections {
		col := rekey.Collection{ClientID: c.ClientID, DataID: c.DataID, SamplingRate: 1}
		if col.DataCollectionMode, err = enumField("properties.dataCollector.collections['"+rekey.Clip(name, 60)+"'].dataCollectionMode", c.DataCollectionMode, enabledDisabled, "Disabled"); err != nil {
			return nil, err
		}
		if c.SamplingRate != nil {
			if *c.SamplingRate < 0 || *c.SamplingRate > 1 {
				return nil, rekey.Errorf(rekey.Invalid, "The samplingRate of data collection '%s' must be between 0 and 1.", rekey.Clip(name, 60))
			}
			col.SamplingRate = *c.SamplingRate
		}
		out.Collections[name] = col
	}
	return out, nil
}

func resourcesFrom(in *containerResourceSettingsJSON) *rekey.ContainerResourceSettings {
	if in == nil {
		return nil
	}
	return &rekey.ContainerResourceSettings{CPU: in.CPU, GPU: in.GPU, Memory: in.Memory}
}

func resourcesOut(s *rekey.ContainerResourceSettings) *containerResourceSettingsJSON {
	if s == nil {
		return nil
	}
	return &containerResourceSettingsJSON{CPU: s.CPU, GPU: s.GPU, Memory: s.Memory}
}

func probeOut(p rekey.ProbeSettings) *probeJSON {
	return &probeJSON{FailureThreshold: p.FailureThreshold, SuccessThreshold: p.SuccessThreshold, Timeout: p.Timeout, Period: p.Period, InitialDelay: p.InitialDelay}
}

// specOut renders a stored spec into the response properties. A spec
// stored before rekey kept one (all zero) shows Azure's defaults.
func specOut(s rekey.DeploymentSpec, p *deploymentPropsJSON) {
	if s.CodeConfiguration != nil {
		p.CodeConfiguration = &codeConfigurationJSON{CodeID: s.CodeConfiguration.CodeID, ScoringScript: s.CodeConfiguration.ScoringScript}
	}
	p.EnvironmentID, p.ModelMountPath, p.AppInsightsEnabled = s.EnvironmentID, s.ModelMountPath, s.AppInsightsEnabled
	p.PrivateNetworkConnection = ptr(s.PrivateNetworkConnection)
	p.EnvironmentVariables = orEmpty(s.EnvironmentVariables)
	p.EgressPublicNetworkAccess = s.EgressPublicNetworkAccess
	if p.EgressPublicNetworkAccess == "" {
		p.EgressPublicNetworkAccess = "Enabled"
	}
	rs := s.RequestSettings
	if rs.MaxConcurrentRequestsPerInstance == nil {
		rs = defaultRequestSettings
	}
	p.RequestSettings = &requestSettingsJSON{MaxQueueWait: rs.MaxQueueWait, RequestTimeout: rs.RequestTimeout, MaxConcurrentRequestsPerInstance: rs.MaxConcurrentRequestsPerInstance}
	for dst, src := range map[**probeJSON]rekey.ProbeSettings{&p.LivenessProbe: s.LivenessProbe, &p.ReadinessProbe: s.ReadinessProbe} {
		if src.FailureThreshold == nil {
			src = defaultProbe
		}
		*dst = probeOut(src)
	}
	sc := s.ScaleSettings
	if sc.ScaleType == nil {
		sc.ScaleType = ptr("Default")
	}
	p.ScaleSettings = &scaleSettingsJSON{ScaleType: sc.ScaleType, MinInstances: sc.MinInstances, MaxInstances: sc.MaxInstances,
		PollingInterval: sc.PollingInterval, TargetUtilizationPercentage: sc.TargetUtilizationPercentage}
	if dc := s.DataCollector; dc != nil {
		out := &dataCollectorJSON{Collections: map[string]collectionJSON{}, RollingRate: &dc.RollingRate}
		if dc.RequestLogging {
			out.RequestLogging = &requestLoggingJSON{CaptureHeaders: dc.CaptureHeaders}
		}
		for name, c := range dc.Collections {
			out.Collections[name] = collectionJSON{ClientID: c.ClientID, DataCollectionMode: ptr(c.DataCollectionMode), DataID: c.DataID, SamplingRate: ptr(c.SamplingRate)}
		}
		p.DataCollector = out
	}
	if cr := s.ContainerResources; cr != nil {
		p.ContainerResourceRequirements = &containerResourcesJSON{ContainerResourceLimits: resourcesOut(cr.Limits), ContainerResourceRequests: resourcesOut(cr.Requests)}
	}
}
