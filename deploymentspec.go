package rekey

// DeploymentSpec is how a caller says an online deployment should run: its
// code, environment, probes, scaling and data collection. rekey runs no
// models, so none of it changes what the gateway does; it is kept and
// reported back as Azure ML does, with the service's defaults filled in.
// Pointers are nil where the caller gave nothing and Azure fills nothing
// (the wire shows null).
type DeploymentSpec struct {
	CodeConfiguration    *CodeConfiguration
	EnvironmentID        *string
	EnvironmentVariables map[string]string
	ModelMountPath       *string
	AppInsightsEnabled   bool
	// PrivateNetworkConnection is the older api-versions' switch that
	// egressPublicNetworkAccess replaced; kept as sent.
	PrivateNetworkConnection  bool
	EgressPublicNetworkAccess string // Enabled or Disabled
	RequestSettings           RequestSettings
	LivenessProbe             ProbeSettings
	ReadinessProbe            ProbeSettings
	ScaleSettings             ScaleSettings
	DataCollector             *DataCollector
	// ContainerResources is the Kubernetes variant's
	// containerResourceRequirements; nil for managed deployments.
	ContainerResources *ContainerResourceRequirements
}

// CodeConfiguration names the scoring code of a deployment.
type CodeConfiguration struct {
	CodeID        *string
	ScoringScript *string
}

// RequestSettings bounds scoring requests. Durations are ISO 8601 strings,
// kept as the caller wrote them.
type RequestSettings struct {
	MaxConcurrentRequestsPerInstance *int32
	MaxQueueWait                     *string
	RequestTimeout                   *string
}

// ProbeSettings is a liveness or readiness probe.
type ProbeSettings struct {
	FailureThreshold *int32
	InitialDelay     *string
	Period           *string
	SuccessThreshold *int32
	Timeout          *string
}

// ScaleSettings is the scaling algorithm: Default, or TargetUtilization
// with its bounds.
type ScaleSettings struct {
	ScaleType                   *string
	MaxInstances                *int32
	MinInstances                *int32
	PollingInterval             *string
	TargetUtilizationPercentage *int32
}

// ContainerResourceRequirements are a Kubernetes deployment's resource
// requests and limits.
type ContainerResourceRequirements struct {
	Limits   *ContainerResourceSettings
	Requests *ContainerResourceSettings
}

// ContainerResourceSettings is one set of Kubernetes resource quantities.
type ContainerResourceSettings struct {
	CPU    *string
	GPU    *string
	Memory *string
}

// DataCollector says which of a deployment's traffic Azure ML would log.
type DataCollector struct {
	Collections    map[string]Collection
	CaptureHeaders []string // requestLogging.captureHeaders
	RequestLogging bool     // whether requestLogging was given
	RollingRate    string
}

// Collection is one data collection of a DataCollector.
type Collection struct {
	ClientID           *string
	DataCollectionMode string
	DataID             *string
	SamplingRate       float64
}
