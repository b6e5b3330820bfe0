package io.faultline.deploy;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.Reader;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.introspect.Annotated;
import com.fasterxml.jackson.databind.introspect.JacksonAnnotationIntrospector;
import com.fasterxml.jackson.databind.type.LogicalType;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapKeySelector;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HTTPGetAction;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.KeyToPath;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.SeccompProfile;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretKeySelector;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeProjection;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeer;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyIngressRule;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;

/**
 * Checks the manifests in {@code k8s/} against the application they deploy, without a cluster:
 * every YAML document is parsed strictly into the fabric8 Kubernetes model, then compared with
 * {@code application.properties}, the {@code @ConfigMapping} interfaces in {@code src/main/java},
 * and the wiring between the Faultline and LiteLLM Deployments.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class KubernetesManifestsTest {

    static final String FAULTLINE = "faultline";
    static final String LITELLM = "litellm";

    /** Created by hand (kubectl create configmap faultline-plugin --from-file=litellm/faultline_callback.py), not in k8s/. */
    static final String PLUGIN_CONFIG_MAP = "faultline-plugin";
    static final String PLUGIN_FILE = "faultline_callback.py";
    static final String PLUGIN_CALLBACK = "faultline_callback.faultline_logger";

    /** Env names the Faultline container may carry besides the application's own config keys. */
    static final List<Pattern> ALLOWED_FAULTLINE_ENV = Stream.of(
            "QUARKUS_DATASOURCE_.+", "QUARKUS_HTTP_PORT", "QUARKUS_LOG_.+", "JAVA_OPTS.*")
            .map(Pattern::compile).toList();

    /** Kinds the manifests may use, each parsed into its fabric8 class. Add a line to allow a new kind. */
    static final Map<String, Class<? extends HasMetadata>> KINDS = Map.of(
            "v1/ConfigMap", ConfigMap.class,
            "v1/Secret", Secret.class,
            "v1/Service", Service.class,
            "apps/v1/Deployment", Deployment.class,
            "networking.k8s.io/v1/NetworkPolicy", NetworkPolicy.class,
            "policy/v1/PodDisruptionBudget", PodDisruptionBudget.class);

    static final YAMLMapper YAML = strictYamlMapper();

    static Path root;
    static Path k8sDir;
    static List<Manifest> manifests;
    static AppConfig app;

    record Manifest(Path file, int document, HasMetadata resource) {
        String describe() {
            return display(file) + " #" + document + " " + resource.getKind() + "/" + resource.getMetadata().getName();
        }
    }

    @BeforeAll
    static void load() throws IOException {
        root = projectRoot();
        k8sDir = root.resolve("k8s");
        manifests = new ArrayList<>();
        for (Path file : manifestFiles()) {
            manifests.addAll(parseManifests(file));
        }
        app = AppConfig.load(root);
    }

    // ---------------------------------------------------------------- parsing

    @Test
    void every_manifest_file_holds_only_known_kinds_with_names() throws IOException {
        List<Path> files = manifestFiles();
        assertFalse(files.isEmpty(), "no k8s/*.yaml manifests found under " + k8sDir);
        for (Path file : files) {
            assertTrue(manifests.stream().anyMatch(m -> m.file().equals(file)), root.relativize(file) + " holds no resource");
        }
        for (Manifest m : manifests) {
            assertNotNull(m.resource().getMetadata(), display(m.file()) + " #" + m.document() + " has no metadata");
            assertNotNull(m.resource().getMetadata().getName(), display(m.file()) + " #" + m.document() + " has no metadata.name");
        }
        assertEquals(manifests.size(), manifests.stream().map(m -> m.resource().getKind() + "/" + m.resource().getMetadata().getName())
                .distinct().count(), "two manifests define the same kind/name");
    }

    @Test
    void a_misspelled_field_is_rejected_by_the_parser() {
        assertRejected(deploymentYaml("livenesProbe: {httpGet: {path: /q/health/live, port: http}}"),
                "spec.template.spec.containers[0].livenesProbe", "Unrecognized field");
        assertRejected(deploymentYaml("image: x").replace("      containers:", "      restartPolicyy: Always\n      containers:"),
                "restartPolicyy");
        assertRejected("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, lables: {a: b}}\n", "metadata.lables");
    }

    @Test
    void a_number_or_boolean_where_kubernetes_wants_a_string_is_rejected() {
        String annotation = deploymentYaml("image: x").replace("    metadata:\n      labels:",
                "    metadata:\n      annotations: {prometheus.io/port: 8080}\n      labels:");
        assertRejected(annotation, "spec.template.metadata.annotations", "Cannot coerce Integer");

        assertRejected(deploymentYaml("env: [{name: X, value: 500}]"), "spec.template.spec.containers[0].env[0].value", "Cannot coerce Integer");
        assertRejected(deploymentYaml("ports: [{name: http, containerPort: \"8080\"}]"), "containerPort", "Cannot coerce String");
        assertRejected("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {ENABLED: true}\n", "data", "Cannot coerce Boolean");
    }

    static void assertRejected(String yaml, String... messageParts) {
        AssertionError e = assertThrows(AssertionError.class, () -> parseDocument(yaml, Path.of("bad.yaml"), 1));
        for (String part : messageParts) {
            assertTrue(e.getMessage().contains(part), "expected `" + part + "` in: " + e.getMessage());
        }
    }

    @Test
    void a_duplicated_key_is_rejected_instead_of_silently_dropping_the_first() {
        assertRejected(deploymentYaml("env: [{name: A, value: \"1\"}]\n          env: [{name: B, value: \"2\"}]"), "Duplicate field 'env'");
    }

    @Test
    void the_fixture_of_the_rejection_tests_parses_when_well_formed() {
        HasMetadata parsed = parseDocument(deploymentYaml("image: x"), Path.of("ok.yaml"), 1);
        assertTrue(parsed instanceof Deployment);
    }

    // ---------------------------------------------------------------- Faultline container vs application config

    @Test
    void faultline_container_port_named_http_is_quarkus_http_port() {
        ContainerPort http = port(faultlineContainer(), "http");
        assertEquals(app.httpPort(faultlineEnv()), http.getContainerPort(),
                "container port `http` must equal quarkus.http.port");
        assertTrue(http.getProtocol() == null || "TCP".equals(http.getProtocol()));
    }

    @Test
    void faultline_probes_hit_smallrye_health_on_the_port_that_serves_it() {
        Container c = faultlineContainer();
        Map<String, String> env = faultlineEnv();
        int port = app.managementPort(env);
        assertAll(
                () -> assertHttpProbe(c, c.getLivenessProbe(), "livenessProbe", app.healthPath(env, "liveness-path", "live"), port),
                () -> assertHttpProbe(c, c.getReadinessProbe(), "readinessProbe", app.healthPath(env, "readiness-path", "ready"), port),
                () -> assertHttpProbe(c, c.getStartupProbe(), "startupProbe", app.healthPath(env, "startup-path", "started"), port));
    }

    @Test
    void the_grace_period_outlasts_the_drain_delay_and_the_wait_for_requests_in_flight() {
        Map<String, String> env = faultlineEnv();
        long delay = seconds(app.setting(env, "quarkus.shutdown.delay", "0"));
        long timeout = seconds(app.setting(env, "quarkus.shutdown.timeout", "0"));
        long grace = Optional.ofNullable(deployment(FAULTLINE).getSpec().getTemplate().getSpec()
                .getTerminationGracePeriodSeconds()).orElse(30L);
        assertAll(
                () -> assertEquals("true", app.setting(env, "quarkus.shutdown.delay-enabled", "false"),
                        "quarkus.shutdown.delay-enabled: readiness goes down before the port closes"),
                () -> assertTrue(delay > 0 && timeout > 0, "quarkus.shutdown.delay and .timeout must be set"),
                () -> assertTrue(grace > delay + timeout, "terminationGracePeriodSeconds (" + grace
                        + ") must exceed quarkus.shutdown.delay + quarkus.shutdown.timeout (" + (delay + timeout)
                        + " s), or the kubelet kills the pod while it drains"));
    }

    /** A Quarkus duration as application.properties writes it: "5s", "2m", "PT20S", or bare seconds. */
    static long seconds(String value) {
        Matcher m = Pattern.compile("(\\d+)(ms|s|m|h)?").matcher(value.trim());
        if (!m.matches()) {
            return java.time.Duration.parse(value.trim()).toSeconds();
        }
        long n = Long.parseLong(m.group(1));
        return switch (Objects.requireNonNullElse(m.group(2), "s")) {
            case "ms" -> n / 1000;
            case "m" -> n * 60;
            case "h" -> n * 3600;
            default -> n;
        };
    }

    @Test
    void prometheus_scrape_annotations_point_at_the_metrics_endpoint() {
        Map<String, String> annotations = Optional.ofNullable(
                deployment(FAULTLINE).getSpec().getTemplate().getMetadata().getAnnotations()).orElse(Map.of());
        Map<String, String> env = faultlineEnv();
        assertAll(
                () -> assertEquals("true", annotations.get("prometheus.io/scrape"), "prometheus.io/scrape"),
                () -> assertEquals(String.valueOf(app.managementPort(env)), annotations.get("prometheus.io/port"), "prometheus.io/port"),
                () -> assertEquals(app.metricsPath(env), annotations.get("prometheus.io/path"), "prometheus.io/path"));
    }

    @Test
    void every_faultline_env_var_is_a_config_key_the_application_reads() {
        Set<String> names = new TreeSet<>(faultlineEnv().keySet());
        names.addAll(envNamesFromSecrets(faultlineContainer()));
        assertFalse(names.isEmpty(), "the Faultline container sets no environment at all");
        List<String> unknown = names.stream().filter(n -> !app.isKnownEnvName(n)).toList();
        assertTrue(unknown.isEmpty(), "env vars of the Faultline container that map to no config key the application reads "
                + "(application.properties, @ConfigMapping, @ConfigProperty, or " + ALLOWED_FAULTLINE_ENV + "): " + unknown);
    }

    @Test
    void kubernetes_injects_no_service_env_vars_into_any_pod() {
        // Service links would add FAULTLINE_SERVICE_HOST, FAULTLINE_PORT, ... which read as faultline.* config.
        for (Deployment d : all(Deployment.class)) {
            assertEquals(Boolean.FALSE, d.getSpec().getTemplate().getSpec().getEnableServiceLinks(),
                    "Deployment " + name(d) + " must set enableServiceLinks: false");
        }
    }

    // ---------------------------------------------------------------- references between manifests

    @Test
    void every_secret_and_config_map_reference_names_a_defined_key() {
        List<String> problems = new ArrayList<>();
        for (Deployment d : all(Deployment.class)) {
            PodSpec pod = d.getSpec().getTemplate().getSpec();
            for (Container c : containers(pod)) {
                String where = "Deployment " + name(d) + " container " + c.getName();
                for (EnvVar e : Optional.ofNullable(c.getEnv()).orElse(List.of())) {
                    if (e.getValueFrom() == null) {
                        continue;
                    }
                    SecretKeySelector s = e.getValueFrom().getSecretKeyRef();
                    if (s != null) {
                        checkKey(problems, where + " env " + e.getName(), "Secret", s.getName(), s.getKey(), secretKeys(s.getName()));
                    }
                    ConfigMapKeySelector cm = e.getValueFrom().getConfigMapKeyRef();
                    if (cm != null) {
                        checkKey(problems, where + " env " + e.getName(), "ConfigMap", cm.getName(), cm.getKey(), configMapKeys(cm.getName()));
                    }
                }
                for (EnvFromSource from : Optional.ofNullable(c.getEnvFrom()).orElse(List.of())) {
                    if (from.getConfigMapRef() != null && configMapKeys(from.getConfigMapRef().getName()).isEmpty()) {
                        problems.add(where + " envFrom: ConfigMap " + from.getConfigMapRef().getName() + " is not defined in k8s/");
                    }
                    if (from.getSecretRef() != null && secretKeys(from.getSecretRef().getName()).isEmpty()) {
                        problems.add(where + " envFrom: Secret " + from.getSecretRef().getName() + " is not defined in k8s/");
                    }
                }
            }
            for (Volume v : Optional.ofNullable(pod.getVolumes()).orElse(List.of())) {
                String where = "Deployment " + name(d) + " volume " + v.getName();
                if (v.getConfigMap() != null) {
                    checkVolumeConfigMap(problems, where, v.getConfigMap().getName(), v.getConfigMap().getItems());
                }
                if (v.getSecret() != null) {
                    for (KeyToPath item : Optional.ofNullable(v.getSecret().getItems()).orElse(List.of())) {
                        checkKey(problems, where, "Secret", v.getSecret().getSecretName(), item.getKey(), secretKeys(v.getSecret().getSecretName()));
                    }
                }
                if (v.getProjected() != null) {
                    for (VolumeProjection p : v.getProjected().getSources()) {
                        if (p.getConfigMap() != null) {
                            checkVolumeConfigMap(problems, where, p.getConfigMap().getName(), p.getConfigMap().getItems());
                        }
                        if (p.getSecret() != null) {
                            for (KeyToPath item : Optional.ofNullable(p.getSecret().getItems()).orElse(List.of())) {
                                checkKey(problems, where, "Secret", p.getSecret().getName(), item.getKey(), secretKeys(p.getSecret().getName()));
                            }
                        }
                    }
                }
            }
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }

    @Test
    void a_drain_keeps_a_faultline_pod_up_and_the_replicas_spread_over_nodes() {
        Deployment d = deployment(FAULTLINE);
        Map<String, String> podLabels = d.getSpec().getTemplate().getMetadata().getLabels();
        List<PodDisruptionBudget> budgets = all(PodDisruptionBudget.class).stream()
                .filter(b -> podLabels.entrySet().containsAll(b.getSpec().getSelector().getMatchLabels().entrySet()))
                .toList();
        assertEquals(1, budgets.size(), "one PodDisruptionBudget selects the Faultline pods");
        IntOrString minAvailable = budgets.get(0).getSpec().getMinAvailable();
        assertNotNull(minAvailable, "minAvailable");
        int replicas = Optional.ofNullable(d.getSpec().getReplicas()).orElse(1);
        assertTrue(minAvailable.getIntVal() != null && minAvailable.getIntVal() >= 1
                && minAvailable.getIntVal() < replicas,
                "minAvailable keeps a pod up and still lets a drain evict one: " + minAvailable + " of " + replicas);
        assertTrue(d.getSpec().getTemplate().getSpec().getTopologySpreadConstraints().stream()
                .anyMatch(t -> "kubernetes.io/hostname".equals(t.getTopologyKey())
                        && podLabels.entrySet().containsAll(t.getLabelSelector().getMatchLabels().entrySet())),
                "the replicas spread over nodes");
    }

    @Test
    void every_deployment_selects_its_own_pod_labels() {
        for (Deployment d : all(Deployment.class)) {
            Map<String, String> selector = d.getSpec().getSelector().getMatchLabels();
            assertTrue(selector != null && !selector.isEmpty(), "Deployment " + name(d) + " has no selector.matchLabels");
            assertTrue(d.getSpec().getTemplate().getMetadata().getLabels().entrySet().containsAll(selector.entrySet()),
                    "Deployment " + name(d) + " selector " + selector + " does not match its pod labels");
        }
    }

    @Test
    void every_service_selects_exactly_one_deployment_and_targets_its_named_ports() {
        List<Service> services = all(Service.class);
        assertFalse(services.isEmpty(), "no Service in k8s/");
        for (Service s : services) {
            Deployment target = selectedDeployment(s);
            for (ServicePort p : s.getSpec().getPorts()) {
                IntOrString targetPort = p.getTargetPort();
                assertTrue(targetPort != null && targetPort.getStrVal() != null,
                        "Service " + name(s) + " port " + p.getPort() + " must target a named container port");
                String portName = targetPort.getStrVal();
                assertTrue(containers(target.getSpec().getTemplate().getSpec()).stream()
                                .flatMap(c -> Optional.ofNullable(c.getPorts()).orElse(List.of()).stream())
                                .anyMatch(cp -> portName.equals(cp.getName())),
                        "Service " + name(s) + " targets port `" + portName + "`, which no container of Deployment " + name(target) + " names");
            }
        }
    }

    @Test
    void the_faultline_service_is_cluster_internal_on_the_http_port() {
        Service s = faultlineService();
        assertTrue(s.getSpec().getType() == null || "ClusterIP".equals(s.getSpec().getType()), "type " + s.getSpec().getType());
        ServicePort http = s.getSpec().getPorts().stream().filter(p -> "http".equals(p.getTargetPort().getStrVal())).findFirst()
                .orElseThrow(() -> new AssertionError("Service " + name(s) + " has no port targeting `http`"));
        assertEquals(app.httpPort(faultlineEnv()), http.getPort());
    }

    // ---------------------------------------------------------------- hardening

    @Test
    void every_container_runs_non_root_with_a_read_only_root_dropped_capabilities_and_resources() {
        List<String> problems = new ArrayList<>();
        for (Deployment d : all(Deployment.class)) {
            PodSpec pod = d.getSpec().getTemplate().getSpec();
            PodSecurityContext podSc = Optional.ofNullable(pod.getSecurityContext()).orElse(new PodSecurityContext());
            if (!Boolean.FALSE.equals(pod.getAutomountServiceAccountToken())) {
                problems.add("Deployment " + name(d) + ": automountServiceAccountToken must be false (nothing here talks to the API server)");
            }
            for (Container c : containers(pod)) {
                String where = "Deployment " + name(d) + " container " + c.getName() + ": ";
                SecurityContext sc = Optional.ofNullable(c.getSecurityContext()).orElse(new SecurityContext());
                Boolean runAsNonRoot = firstNonNull(sc.getRunAsNonRoot(), podSc.getRunAsNonRoot());
                Long runAsUser = firstNonNull(sc.getRunAsUser(), podSc.getRunAsUser());
                SeccompProfile seccomp = firstNonNull(sc.getSeccompProfile(), podSc.getSeccompProfile());
                if (!Boolean.TRUE.equals(runAsNonRoot)) {
                    problems.add(where + "runAsNonRoot must be true");
                }
                if (runAsUser == null || runAsUser == 0) {
                    problems.add(where + "runAsUser must be set to a non-zero uid");
                }
                if (!Boolean.FALSE.equals(sc.getAllowPrivilegeEscalation())) {
                    problems.add(where + "allowPrivilegeEscalation must be false");
                }
                if (Boolean.TRUE.equals(sc.getPrivileged())) {
                    problems.add(where + "must not be privileged");
                }
                if (!Boolean.TRUE.equals(sc.getReadOnlyRootFilesystem())) {
                    problems.add(where + "readOnlyRootFilesystem must be true");
                }
                if (sc.getCapabilities() == null || sc.getCapabilities().getDrop() == null || !sc.getCapabilities().getDrop().contains("ALL")) {
                    problems.add(where + "capabilities.drop must contain ALL");
                }
                if (sc.getCapabilities() != null && sc.getCapabilities().getAdd() != null && !sc.getCapabilities().getAdd().isEmpty()) {
                    problems.add(where + "must add no capabilities");
                }
                if (seccomp == null || !"RuntimeDefault".equals(seccomp.getType())) {
                    problems.add(where + "seccompProfile must be RuntimeDefault");
                }
                ResourceRequirements r = c.getResources();
                Map<String, Quantity> requests = r == null || r.getRequests() == null ? Map.of() : r.getRequests();
                Map<String, Quantity> limits = r == null || r.getLimits() == null ? Map.of() : r.getLimits();
                for (String res : List.of("cpu", "memory")) {
                    if (!requests.containsKey(res)) {
                        problems.add(where + "resources.requests." + res + " must be set");
                    }
                    if (!limits.containsKey(res)) {
                        problems.add(where + "resources.limits." + res + " must be set");
                    }
                }
                if (requests.containsKey("memory") && limits.containsKey("memory")
                        && Quantity.getAmountInBytes(requests.get("memory")).compareTo(Quantity.getAmountInBytes(limits.get("memory"))) > 0) {
                    problems.add(where + "memory request exceeds its limit");
                }
                if (Boolean.TRUE.equals(sc.getReadOnlyRootFilesystem()) && !hasWritableDir(pod, c, "/tmp")) {
                    problems.add(where + "a read-only root needs an emptyDir mounted at /tmp");
                }
            }
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }

    // ---------------------------------------------------------------- LiteLLM

    @Test
    void litellm_mounts_the_plugin_next_to_its_config_so_the_callback_resolves() throws IOException {
        Deployment d = deployment(LITELLM);
        Container c = container(d, LITELLM);
        String configPath = cliOption(c, "--config")
                .orElseThrow(() -> new AssertionError("LiteLLM must be started with --config <file>"));
        Path configFile = Path.of(configPath);
        String configDir = configFile.getParent().toString();

        VolumeMount mount = Optional.ofNullable(c.getVolumeMounts()).orElse(List.of()).stream()
                .filter(m -> configDir.equals(trimSlash(m.getMountPath())))
                .findFirst()
                .orElseThrow(() -> new AssertionError("nothing is mounted at " + configDir + ", the directory of --config " + configPath));
        assertTrue(mount.getSubPath() == null || mount.getSubPath().isEmpty(), "the config directory must be a whole-volume mount");
        Volume volume = volume(d, mount.getName());
        Map<String, String> files = filesOf(volume); // path in the mount -> ConfigMap providing it

        String configName = configFile.getFileName().toString();
        assertTrue(files.containsKey(configName), configName + " is not projected into " + configDir + ": " + files.keySet());
        assertTrue(files.containsKey(PLUGIN_FILE), PLUGIN_FILE + " is not projected into " + configDir + ": " + files.keySet());
        assertEquals(PLUGIN_CONFIG_MAP, files.get(PLUGIN_FILE), PLUGIN_FILE + " must come from the " + PLUGIN_CONFIG_MAP + " ConfigMap");

        // The proxy config registers the callback, and LiteLLM looks for its module next to the config file.
        ConfigMap proxyConfigMap = configMap(files.get(configName))
                .orElseThrow(() -> new AssertionError("ConfigMap " + files.get(configName) + " with the proxy config is not in k8s/"));
        String key = keyFor(volume, files.get(configName), configName);
        JsonNode proxyConfig = YAML.readTree(proxyConfigMap.getData().get(key));
        List<String> callbacks = new ArrayList<>();
        for (String field : List.of("callbacks", "success_callback", "failure_callback")) {
            proxyConfig.path("litellm_settings").path(field).forEach(n -> callbacks.add(n.asText()));
        }
        assertTrue(callbacks.contains(PLUGIN_CALLBACK), "litellm_settings.callbacks must register " + PLUGIN_CALLBACK + ", has " + callbacks);
        for (String callback : callbacks.stream().filter(cb -> cb.startsWith("faultline_callback.")).toList()) {
            String module = callback.substring(0, callback.lastIndexOf('.'));
            String moduleFile = module.replace('.', '/') + ".py";
            assertTrue(files.containsKey(moduleFile), "callback " + callback + " needs " + configDir + "/" + moduleFile);
        }

        Map<String, String> env = plainEnv(c);
        List<String> pythonPath = Arrays.asList(env.getOrDefault("PYTHONPATH", "").split(":"));
        assertTrue(pythonPath.contains(configDir), "PYTHONPATH must contain " + configDir + ", is " + env.get("PYTHONPATH"));
    }

    @Test
    void litellm_posts_to_the_faultline_service_with_the_faultline_api_key() {
        Container litellm = container(deployment(LITELLM), LITELLM);
        Map<String, String> env = plainEnv(litellm);

        Service faultline = faultlineService();
        URI url = URI.create(Objects.requireNonNull(env.get("FAULTLINE_URL"), "LiteLLM sets no FAULTLINE_URL"));
        String host = url.getHost();
        assertEquals("http", url.getScheme(), "FAULTLINE_URL scheme");
        assertTrue(host.equals(name(faultline)) || host.startsWith(name(faultline) + "."),
                "FAULTLINE_URL host " + host + " is not the Faultline Service " + name(faultline));
        assertTrue(faultline.getSpec().getPorts().stream().anyMatch(p -> p.getPort() == url.getPort()),
                "FAULTLINE_URL port " + url.getPort() + " is not a port of Service " + name(faultline));

        // The plugin holds the ingest key only: it cannot delete budgets or start paid baseline runs.
        SecretKeySelector litellmKey = secretRef(litellm, "FAULTLINE_INGEST_API_KEY");
        SecretKeySelector faultlineKey = secretRef(faultlineContainer(), "FAULTLINE_INGEST_API_KEY");
        assertNotNull(litellmKey, "LiteLLM must read FAULTLINE_INGEST_API_KEY from a Secret");
        assertNotNull(faultlineKey, "Faultline must read FAULTLINE_INGEST_API_KEY from a Secret");
        assertEquals(faultlineKey.getName() + "/" + faultlineKey.getKey(), litellmKey.getName() + "/" + litellmKey.getKey(),
                "both sides must use the same Secret key for the ingest key");
        assertFalse(Boolean.TRUE.equals(litellmKey.getOptional()), "the ingest key must not be optional for LiteLLM");
        assertNull(secretRef(litellm, "FAULTLINE_ADMIN_API_KEY"), "LiteLLM must not hold the admin key");
        assertNull(secretRef(litellm, "FAULTLINE_READ_API_KEY"), "LiteLLM must not hold the read key");
    }

    @Test
    void faultline_reads_every_role_key_from_the_secret() {
        for (String env : List.of("FAULTLINE_ADMIN_API_KEY", "FAULTLINE_INGEST_API_KEY", "FAULTLINE_READ_API_KEY")) {
            SecretKeySelector ref = secretRef(faultlineContainer(), env);
            assertNotNull(ref, "Faultline must read " + env + " from a Secret");
            assertTrue(app.isKnownEnvName(env), env + " is a key the application reads");
        }
    }

    @Test
    void a_network_policy_admits_only_litellm_labelled_clients_and_prometheus_on_the_http_port() {
        List<NetworkPolicy> policies = all(NetworkPolicy.class);
        NetworkPolicy policy = policies.stream().filter(p -> FAULTLINE.equals(p.getSpec().getPodSelector()
                .getMatchLabels().get("app.kubernetes.io/name"))).findFirst()
                .orElseThrow(() -> new AssertionError("no NetworkPolicy selects the Faultline pods"));
        Deployment faultline = deployment(FAULTLINE);
        assertTrue(faultline.getSpec().getTemplate().getMetadata().getLabels().entrySet().containsAll(
                policy.getSpec().getPodSelector().getMatchLabels().entrySet()), "the policy selects the Faultline pods");
        assertEquals(List.of("Ingress"), policy.getSpec().getPolicyTypes());
        List<NetworkPolicyPeer> peers = new ArrayList<>();
        for (NetworkPolicyIngressRule rule : policy.getSpec().getIngress()) {
            assertEquals(1, rule.getPorts().size(), "one port per rule");
            assertEquals("http", rule.getPorts().get(0).getPort().getStrVal(), "the rule admits the http port only");
            assertNotNull(rule.getFrom(), "a rule without from admits everyone");
            peers.addAll(rule.getFrom());
        }
        Map<String, String> litellmPod = deployment(LITELLM).getSpec().getTemplate().getMetadata().getLabels();
        assertTrue(peers.stream().anyMatch(p -> p.getNamespaceSelector() == null && p.getPodSelector() != null
                && litellmPod.entrySet().containsAll(p.getPodSelector().getMatchLabels().entrySet())),
                "the LiteLLM pods are admitted");
        assertTrue(peers.stream().anyMatch(p -> p.getPodSelector() != null
                && "prometheus".equals(p.getPodSelector().getMatchLabels().get("app.kubernetes.io/name"))),
                "Prometheus is admitted");
        for (NetworkPolicyPeer peer : peers) {
            assertNull(peer.getIpBlock(), "no IP blocks: pods are admitted by label");
            assertNotNull(peer.getPodSelector(), "every peer names pods by label, none admits whole namespaces");
            assertFalse(peer.getPodSelector().getMatchLabels() == null
                    || peer.getPodSelector().getMatchLabels().isEmpty(), "no peer admits every pod");
        }
    }

    @Test
    void the_litellm_image_is_pinned_to_the_release_the_plugin_is_tested_with() throws IOException {
        String image = container(deployment(LITELLM), LITELLM).getImage();
        String requirements = Files.readString(root.resolve("litellm/requirements.txt"));
        java.util.regex.Matcher version = Pattern.compile("litellm\\[proxy]==([0-9.]+)").matcher(requirements);
        assertTrue(version.find(), "litellm/requirements.txt pins litellm[proxy]");
        assertTrue(image.contains("@sha256:") || image.endsWith(":main-v" + version.group(1)),
                image + " is neither a digest nor the exact release main-v" + version.group(1));
        assertFalse(image.matches(".*:(latest|main-latest|main-stable|main)(@.*)?$"), image + " is a moving tag");
    }

    @Test
    void litellm_spools_to_a_writable_volume() {
        Deployment d = deployment(LITELLM);
        Container c = container(d, LITELLM);
        String spool = plainEnv(c).get("FAULTLINE_SPOOL_DIR");
        assertNotNull(spool, "LiteLLM sets no FAULTLINE_SPOOL_DIR");
        assertTrue(hasWritableDir(d.getSpec().getTemplate().getSpec(), c, spool),
                "FAULTLINE_SPOOL_DIR " + spool + " is not on a writable emptyDir or PVC mount");
    }

    @Test
    void litellm_probes_use_the_proxy_health_endpoints_on_its_port() {
        Container c = container(deployment(LITELLM), LITELLM);
        int port = cliOption(c, "--port").map(Integer::parseInt).orElse(4000);
        assertEquals(port, port(c, "http").getContainerPort(), "container port `http` must be the proxy's --port");
        assertAll(
                () -> assertHttpProbe(c, c.getLivenessProbe(), "livenessProbe", "/health/liveliness", port),
                () -> assertHttpProbe(c, c.getReadinessProbe(), "readinessProbe", "/health/readiness", port),
                () -> assertHttpProbe(c, c.getStartupProbe(), "startupProbe", "/health/liveliness", port));
    }

    @Test
    void litellm_reads_provider_keys_and_master_key_from_its_own_secret() {
        Container c = container(deployment(LITELLM), LITELLM);
        for (String name : List.of("LITELLM_MASTER_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY")) {
            SecretKeySelector ref = secretRef(c, name);
            assertNotNull(ref, name + " must come from a Secret");
            assertFalse(ref.getName().equals(secretRef(faultlineContainer(), "FAULTLINE_API_KEY").getName()),
                    name + " must not share the Secret the Faultline pods read");
        }
    }

    // ---------------------------------------------------------------- kustomize and secrets

    @Test
    void kustomization_lists_every_manifest_but_never_the_secret_template() throws IOException {
        Path kustomization = k8sDir.resolve("kustomization.yaml");
        assertTrue(Files.isRegularFile(kustomization), "k8s/kustomization.yaml is missing");
        JsonNode k = YAML.readTree(kustomization.toFile());
        assertEquals("Kustomization", k.path("kind").asText());
        Set<String> listed = new TreeSet<>();
        k.path("resources").forEach(n -> listed.add(n.asText()));
        Set<String> expected = manifestFiles().stream().map(p -> p.getFileName().toString())
                .filter(f -> !f.endsWith(".template.yaml")).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(expected, listed, "kustomization.yaml resources");
    }

    @Test
    void secrets_in_k8s_are_templates_with_placeholders_only() {
        List<Manifest> secrets = manifests.stream().filter(m -> m.resource() instanceof Secret).toList();
        assertFalse(secrets.isEmpty(), "the Secrets the Deployments read must be templated in k8s/");
        for (Manifest m : secrets) {
            Secret s = (Secret) m.resource();
            assertTrue(m.file().getFileName().toString().endsWith(".template.yaml"), m.describe() + " must live in a *.template.yaml file");
            assertTrue(s.getData() == null || s.getData().isEmpty(), m.describe() + " must use stringData placeholders, not data");
            s.getStringData().forEach((key, value) -> assertEquals("CHANGE_ME", value, m.describe() + " key " + key + " is not a placeholder"));
        }
    }

    // ---------------------------------------------------------------- config-key discovery itself

    @Test
    void config_mapping_methods_count_as_kebab_case_keys_under_their_prefix() {
        String source = """
                @ConfigMapping(prefix = "faultline")
                public interface FaultlineConfig {
                    Ingest ingest();
                    @WithName("api-key") Optional<String> key();
                    interface Ingest {
                        @WithDefault("500") int maxBatchItems();
                        Duration flushAfterMS();
                    }
                }
                """;
        AppConfig.Mapping mapping = AppConfig.Mapping.parse(source).get(0);
        assertEquals("faultline", mapping.prefix());
        assertTrue(mapping.acceptsEnv("FAULTLINE_INGEST_MAX_BATCH_ITEMS"));
        assertTrue(mapping.acceptsEnv("FAULTLINE_API_KEY"));
        assertTrue(mapping.acceptsEnv("FAULTLINE_INGEST_FLUSH_AFTER_MS"));
        assertFalse(mapping.acceptsEnv("FAULTLINE_INGEST_MAX_BATCH_ITEM"));
        assertFalse(mapping.acceptsEnv("FAULTLINE_INGESTION_MAX_BATCH_ITEMS"));
        assertFalse(mapping.acceptsEnv("FAULTLINE_"));
        assertEquals("QUARKUS_LOG_CATEGORY__IO_FAULTLINE__LEVEL", AppConfig.envName("quarkus.log.category.\"io.faultline\".level"));
    }

    @Test
    void application_properties_keys_and_their_env_references_count_as_known() {
        assertTrue(app.isKnownEnvName("FAULTLINE_API_KEY"), "faultline.api-key from application.properties");
        assertTrue(app.isKnownEnvName("QUARKUS_DATASOURCE_JDBC_URL"));
        assertFalse(app.isKnownEnvName("FAULTLINE_API_KEYS"));
        assertFalse(app.isKnownEnvName("QUARKUS_HTTP_PROT"));
    }

    // ================================================================ helpers: loading

    static Path projectRoot() {
        Path dir = Path.of("").toAbsolutePath();
        for (Path p = dir; p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("k8s")) && Files.isRegularFile(p.resolve("pom.xml"))) {
                return p;
            }
        }
        throw new IllegalStateException("no k8s/ beside a pom.xml above " + dir);
    }

    static List<Path> manifestFiles() throws IOException {
        try (Stream<Path> files = Files.list(k8sDir)) {
            return files.filter(p -> p.getFileName().toString().endsWith(".yaml") || p.getFileName().toString().endsWith(".yml"))
                    .filter(p -> !p.getFileName().toString().startsWith("kustomization."))
                    .sorted().toList();
        }
    }

    static YAMLMapper strictYamlMapper() {
        YAMLFactory factory = YAMLFactory.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();
        YAMLMapper mapper = YAMLMapper.builder(factory)
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
                // fabric8 classes collect unknown fields in an @JsonAnySetter map; without one, they fail the parse.
                .annotationIntrospector(new JacksonAnnotationIntrospector() {
                    @Override
                    public Boolean hasAnySetter(Annotated a) {
                        return Boolean.FALSE;
                    }
                })
                .build();
        // Kubernetes rejects `value: 500` where a string is due (annotations, env values, ConfigMap data).
        for (CoercionInputShape shape : List.of(CoercionInputShape.Integer, CoercionInputShape.Float, CoercionInputShape.Boolean)) {
            mapper.coercionConfigFor(LogicalType.Textual).setCoercion(shape, CoercionAction.Fail);
        }
        return mapper;
    }

    static List<Manifest> parseManifests(Path file) throws IOException {
        List<Manifest> result = new ArrayList<>();
        String text = Files.readString(file);
        try (MappingIterator<JsonNode> docs = YAML.readerFor(JsonNode.class).readValues(text)) {
            int index = 0;
            while (docs.hasNextValue()) {
                JsonNode node = docs.nextValue();
                index++;
                if (node == null || node.isNull() || node.isMissingNode()) {
                    continue; // a document of comments only
                }
                result.add(new Manifest(file, index, toResource(node, file, index)));
            }
        } catch (JsonProcessingException e) {
            throw new AssertionError(display(file) + ": not valid YAML: " + e.getOriginalMessage(), e);
        }
        return result;
    }

    static Path display(Path file) {
        return root != null && file.isAbsolute() && file.startsWith(root) ? root.relativize(file) : file;
    }

    static HasMetadata parseDocument(String yaml, Path file, int index) {
        try {
            return toResource(YAML.readTree(yaml), file, index);
        } catch (JsonProcessingException e) {
            throw new AssertionError(file + ": not valid YAML: " + e.getOriginalMessage(), e);
        }
    }

    static HasMetadata toResource(JsonNode node, Path file, int index) {
        String type = node.path("apiVersion").asText() + "/" + node.path("kind").asText();
        Class<? extends HasMetadata> cls = KINDS.get(type);
        if (cls == null) {
            throw new AssertionError(display(file) + " #" + index + ": " + type + " is not a kind this test knows; add it to KINDS");
        }
        try {
            return YAML.treeToValue(node, cls);
        } catch (JsonProcessingException e) {
            throw new AssertionError(display(file) + " #" + index + " (" + type + "): does not match the Kubernetes schema at "
                    + yamlPath(e) + ": " + e.getOriginalMessage(), e);
        }
    }

    /** `spec.template.spec.containers[0].livenesProbe` for a mapping error, so the message points at the line to fix. */
    static String yamlPath(JsonProcessingException e) {
        if (!(e instanceof JsonMappingException mapping)) {
            return "?";
        }
        StringBuilder path = new StringBuilder();
        for (JsonMappingException.Reference ref : mapping.getPath()) {
            if (ref.getFieldName() != null) {
                path.append(path.length() == 0 ? "" : ".").append(ref.getFieldName());
            } else if (ref.getIndex() >= 0) {
                path.append('[').append(ref.getIndex()).append(']');
            }
        }
        return path.length() == 0 ? "the top level" : path.toString();
    }

    static String deploymentYaml(String containerExtra) {
        return """
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: t}
                spec:
                  selector: {matchLabels: {app: t}}
                  template:
                    metadata:
                      labels: {app: t}
                    spec:
                      containers:
                        - name: t
                          %s
                """.formatted(containerExtra);
    }

    // ================================================================ helpers: lookups

    static <T extends HasMetadata> List<T> all(Class<T> type) {
        return manifests.stream().map(Manifest::resource).filter(type::isInstance).map(type::cast).toList();
    }

    static String name(HasMetadata r) {
        return r.getMetadata().getName();
    }

    static Deployment deployment(String name) {
        return all(Deployment.class).stream().filter(d -> name.equals(name(d))).findFirst()
                .orElseThrow(() -> new AssertionError("no Deployment named " + name + " in k8s/"));
    }

    static List<Container> containers(PodSpec pod) {
        List<Container> all = new ArrayList<>(Optional.ofNullable(pod.getInitContainers()).orElse(List.of()));
        all.addAll(pod.getContainers());
        return all;
    }

    static Container container(Deployment d, String name) {
        return d.getSpec().getTemplate().getSpec().getContainers().stream().filter(c -> name.equals(c.getName())).findFirst()
                .orElseThrow(() -> new AssertionError("Deployment " + name(d) + " has no container named " + name));
    }

    static Container faultlineContainer() {
        return container(deployment(FAULTLINE), FAULTLINE);
    }

    static Service faultlineService() {
        Deployment faultline = deployment(FAULTLINE);
        return all(Service.class).stream().filter(s -> selectedDeployment(s) == faultline).findFirst()
                .orElseThrow(() -> new AssertionError("no Service selects the Faultline Deployment"));
    }

    static Deployment selectedDeployment(Service s) {
        Map<String, String> selector = s.getSpec().getSelector();
        assertTrue(selector != null && !selector.isEmpty(), "Service " + name(s) + " has no selector");
        List<Deployment> selected = all(Deployment.class).stream()
                .filter(d -> d.getSpec().getTemplate().getMetadata().getLabels().entrySet().containsAll(selector.entrySet()))
                .toList();
        assertEquals(1, selected.size(), "Service " + name(s) + " selector " + selector + " must match exactly one Deployment's pods, matches "
                + selected.stream().map(KubernetesManifestsTest::name).toList());
        return selected.get(0);
    }

    static ContainerPort port(Container c, String name) {
        return Optional.ofNullable(c.getPorts()).orElse(List.of()).stream().filter(p -> name.equals(p.getName())).findFirst()
                .orElseThrow(() -> new AssertionError("container " + c.getName() + " has no port named " + name));
    }

    static Volume volume(Deployment d, String name) {
        return Optional.ofNullable(d.getSpec().getTemplate().getSpec().getVolumes()).orElse(List.of()).stream()
                .filter(v -> name.equals(v.getName())).findFirst()
                .orElseThrow(() -> new AssertionError("Deployment " + name(d) + " mounts undefined volume " + name));
    }

    static Optional<ConfigMap> configMap(String name) {
        return all(ConfigMap.class).stream().filter(c -> name.equals(name(c))).findFirst();
    }

    static Set<String> configMapKeys(String name) {
        return configMap(name).map(c -> {
            Set<String> keys = new LinkedHashSet<>(Optional.ofNullable(c.getData()).orElse(Map.of()).keySet());
            keys.addAll(Optional.ofNullable(c.getBinaryData()).orElse(Map.of()).keySet());
            return keys;
        }).orElse(Set.of());
    }

    static Set<String> secretKeys(String name) {
        return all(Secret.class).stream().filter(s -> name.equals(name(s))).findFirst().map(s -> {
            Set<String> keys = new LinkedHashSet<>(Optional.ofNullable(s.getData()).orElse(Map.of()).keySet());
            keys.addAll(Optional.ofNullable(s.getStringData()).orElse(Map.of()).keySet());
            return keys;
        }).orElse(Set.of());
    }

    static void checkKey(List<String> problems, String where, String kind, String name, String key, Set<String> keys) {
        if (keys.isEmpty()) {
            problems.add(where + ": " + kind + " " + name + " is not defined in k8s/");
        } else if (!keys.contains(key)) {
            problems.add(where + ": " + kind + " " + name + " has no key " + key + " (has " + keys + ")");
        }
    }

    static void checkVolumeConfigMap(List<String> problems, String where, String name, List<KeyToPath> items) {
        if (PLUGIN_CONFIG_MAP.equals(name)) {
            // Created by hand from litellm/faultline_callback.py, so its only key is the file name.
            for (KeyToPath item : Optional.ofNullable(items).orElse(List.of())) {
                if (!PLUGIN_FILE.equals(item.getKey())) {
                    problems.add(where + ": ConfigMap " + name + " (from --from-file=litellm/" + PLUGIN_FILE + ") has no key " + item.getKey());
                }
            }
            return;
        }
        Set<String> keys = configMapKeys(name);
        if (keys.isEmpty()) {
            problems.add(where + ": ConfigMap " + name + " is not defined in k8s/");
        }
        for (KeyToPath item : Optional.ofNullable(items).orElse(List.of())) {
            checkKey(problems, where, "ConfigMap", name, item.getKey(), keys);
        }
    }

    /** File path inside the mount -> name of the ConfigMap that provides it. */
    static Map<String, String> filesOf(Volume v) {
        Map<String, String> files = new LinkedHashMap<>();
        if (v.getConfigMap() != null) {
            addFiles(files, v.getConfigMap().getName(), v.getConfigMap().getItems());
        }
        if (v.getProjected() != null) {
            for (VolumeProjection p : v.getProjected().getSources()) {
                if (p.getConfigMap() != null) {
                    addFiles(files, p.getConfigMap().getName(), p.getConfigMap().getItems());
                }
            }
        }
        return files;
    }

    static void addFiles(Map<String, String> files, String configMap, List<KeyToPath> items) {
        if (items != null && !items.isEmpty()) {
            items.forEach(i -> files.put(i.getPath(), configMap));
        } else if (PLUGIN_CONFIG_MAP.equals(configMap)) {
            files.put(PLUGIN_FILE, configMap);
        } else {
            configMapKeys(configMap).forEach(k -> files.put(k, configMap));
        }
    }

    static String keyFor(Volume v, String configMap, String path) {
        List<KeyToPath> items = new ArrayList<>();
        if (v.getConfigMap() != null && configMap.equals(v.getConfigMap().getName()) && v.getConfigMap().getItems() != null) {
            items.addAll(v.getConfigMap().getItems());
        }
        if (v.getProjected() != null) {
            v.getProjected().getSources().stream()
                    .filter(p -> p.getConfigMap() != null && configMap.equals(p.getConfigMap().getName()) && p.getConfigMap().getItems() != null)
                    .forEach(p -> items.addAll(p.getConfigMap().getItems()));
        }
        return items.stream().filter(i -> path.equals(i.getPath())).map(KeyToPath::getKey).findFirst().orElse(path);
    }

    /** Whether `dir` lies on a writable emptyDir or PVC mount of container `c`. */
    static boolean hasWritableDir(PodSpec pod, Container c, String dir) {
        for (VolumeMount m : Optional.ofNullable(c.getVolumeMounts()).orElse(List.of())) {
            String mountPath = trimSlash(m.getMountPath());
            boolean covers = trimSlash(dir).equals(mountPath) || trimSlash(dir).startsWith(mountPath + "/");
            if (!covers || Boolean.TRUE.equals(m.getReadOnly())) {
                continue;
            }
            Optional<Volume> v = Optional.ofNullable(pod.getVolumes()).orElse(List.of()).stream()
                    .filter(vol -> vol.getName().equals(m.getName())).findFirst();
            if (v.isPresent() && (v.get().getEmptyDir() != null || v.get().getPersistentVolumeClaim() != null)) {
                return true;
            }
        }
        return false;
    }

    static String trimSlash(String path) {
        return path.length() > 1 && path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
    }

    /** Plain env of a container: explicit `value`s plus the data of envFrom ConfigMaps (with their prefixes). */
    static Map<String, String> plainEnv(Container c) {
        Map<String, String> env = new LinkedHashMap<>();
        for (EnvFromSource from : Optional.ofNullable(c.getEnvFrom()).orElse(List.of())) {
            if (from.getConfigMapRef() != null) {
                String prefix = Optional.ofNullable(from.getPrefix()).orElse("");
                configMap(from.getConfigMapRef().getName()).map(ConfigMap::getData).orElse(Map.of())
                        .forEach((k, v) -> env.put(prefix + k, v));
            }
        }
        for (EnvVar e : Optional.ofNullable(c.getEnv()).orElse(List.of())) {
            env.put(e.getName(), e.getValue());
        }
        return env;
    }

    static Map<String, String> faultlineEnv() {
        return plainEnv(faultlineContainer());
    }

    /** Names an envFrom Secret contributes (its keys, prefixed). */
    static Set<String> envNamesFromSecrets(Container c) {
        Set<String> names = new TreeSet<>();
        for (EnvFromSource from : Optional.ofNullable(c.getEnvFrom()).orElse(List.of())) {
            if (from.getSecretRef() != null) {
                String prefix = Optional.ofNullable(from.getPrefix()).orElse("");
                secretKeys(from.getSecretRef().getName()).forEach(k -> names.add(prefix + k));
            }
        }
        return names;
    }

    static SecretKeySelector secretRef(Container c, String envName) {
        return Optional.ofNullable(c.getEnv()).orElse(List.of()).stream()
                .filter(e -> envName.equals(e.getName()) && e.getValueFrom() != null)
                .map(e -> e.getValueFrom().getSecretKeyRef()).filter(Objects::nonNull).findFirst().orElse(null);
    }

    static Optional<String> cliOption(Container c, String option) {
        List<String> words = new ArrayList<>(Optional.ofNullable(c.getCommand()).orElse(List.of()));
        words.addAll(Optional.ofNullable(c.getArgs()).orElse(List.of()));
        for (int i = 0; i < words.size(); i++) {
            if (words.get(i).equals(option) && i + 1 < words.size()) {
                return Optional.of(words.get(i + 1));
            }
            if (words.get(i).startsWith(option + "=")) {
                return Optional.of(words.get(i).substring(option.length() + 1));
            }
        }
        return Optional.empty();
    }

    static void assertHttpProbe(Container c, Probe probe, String what, String path, int port) {
        assertNotNull(probe, c.getName() + " has no " + what);
        HTTPGetAction get = probe.getHttpGet();
        assertNotNull(get, c.getName() + " " + what + " must be an httpGet probe");
        assertEquals(path, get.getPath(), c.getName() + " " + what + " path");
        assertTrue(get.getScheme() == null || "HTTP".equals(get.getScheme()), c.getName() + " " + what + " scheme");
        IntOrString p = get.getPort();
        assertNotNull(p, c.getName() + " " + what + " has no port");
        int resolved = p.getStrVal() != null ? port(c, p.getStrVal()).getContainerPort() : p.getIntVal();
        assertEquals(port, resolved, c.getName() + " " + what + " port");
    }

    @SafeVarargs
    static <T> T firstNonNull(T... values) {
        return Arrays.stream(values).filter(Objects::nonNull).findFirst().orElse(null);
    }

    // ================================================================ application configuration

    /**
     * What the application reads, from its own sources: application.properties (prod profile), and the
     * {@code @ConfigMapping} / {@code @ConfigProperty} declarations under src/main/java.
     */
    record AppConfig(Properties properties, Set<String> knownEnvNames, List<Mapping> mappings) {

        static final Pattern EXPRESSION = Pattern.compile("\\$\\{([^:}]+)(?::([^}]*))?}");
        static final Pattern CONFIG_PROPERTY = Pattern.compile("@ConfigProperty\\s*\\(\\s*name\\s*=\\s*\"([^\"]+)\"");

        static AppConfig load(Path root) throws IOException {
            Properties props = new Properties();
            try (Reader r = Files.newBufferedReader(root.resolve("src/main/resources/application.properties"))) {
                props.load(r);
            }
            Set<String> known = new TreeSet<>();
            for (String key : props.stringPropertyNames()) {
                known.add(envName(withoutProfile(key)));
                Matcher m = EXPRESSION.matcher(props.getProperty(key));
                while (m.find()) {
                    known.add(envName(m.group(1))); // `${FAULTLINE_API_KEY:}` reads that env var directly
                }
            }
            List<Mapping> mappings = new ArrayList<>();
            Path java = root.resolve("src/main/java");
            if (Files.isDirectory(java)) {
                try (Stream<Path> files = Files.walk(java)) {
                    for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                        String source = Files.readString(f);
                        mappings.addAll(Mapping.parse(source));
                        Matcher m = CONFIG_PROPERTY.matcher(source);
                        while (m.find()) {
                            known.add(envName(m.group(1)));
                        }
                    }
                }
            }
            return new AppConfig(props, known, mappings);
        }

        /** MicroProfile Config's env-var form of a property name. */
        static String envName(String property) {
            return property.replaceAll("[^A-Za-z0-9]", "_").toUpperCase(Locale.ROOT);
        }

        static String withoutProfile(String key) {
            return key.startsWith("%") && key.indexOf('.') > 0 ? key.substring(key.indexOf('.') + 1) : key;
        }

        boolean isKnownEnvName(String name) {
            return knownEnvNames.contains(name)
                    || ALLOWED_FAULTLINE_ENV.stream().anyMatch(p -> p.matcher(name).matches())
                    || mappings.stream().anyMatch(m -> m.acceptsEnv(name));
        }

        /** Prod value of a property: the container's env wins, then %prod., then the plain key, then the default. */
        String setting(Map<String, String> env, String key, String defaultValue) {
            String value = env.get(envName(key));
            if (value == null) {
                value = properties.getProperty("%prod." + key, properties.getProperty(key));
            }
            if (value == null) {
                return defaultValue;
            }
            Matcher m = EXPRESSION.matcher(value.trim());
            if (m.matches()) {
                String fromEnv = env.get(envName(m.group(1)));
                return fromEnv != null ? fromEnv : Optional.ofNullable(m.group(2)).orElse(defaultValue);
            }
            return value.trim();
        }

        int httpPort(Map<String, String> env) {
            return Integer.parseInt(setting(env, "quarkus.http.port", "8080"));
        }

        boolean managementEnabled(Map<String, String> env) {
            return Boolean.parseBoolean(setting(env, "quarkus.management.enabled", "false"));
        }

        /** Port serving health and metrics: the management interface when enabled, else the HTTP port. */
        int managementPort(Map<String, String> env) {
            return managementEnabled(env) ? Integer.parseInt(setting(env, "quarkus.management.port", "9000")) : httpPort(env);
        }

        String nonApplicationRoot(Map<String, String> env) {
            if (managementEnabled(env)) {
                return under("/", setting(env, "quarkus.management.root-path", "q"));
            }
            String rootPath = setting(env, "quarkus.http.root-path", "/");
            return under(rootPath, setting(env, "quarkus.http.non-application-root-path", "q"));
        }

        String healthPath(Map<String, String> env, String subKey, String subDefault) {
            String health = under(nonApplicationRoot(env), setting(env, "quarkus.smallrye-health.root-path", "health"));
            return under(health, setting(env, "quarkus.smallrye-health." + subKey, subDefault));
        }

        String metricsPath(Map<String, String> env) {
            return under(nonApplicationRoot(env), setting(env, "quarkus.micrometer.export.prometheus.path", "metrics"));
        }

        static String under(String base, String path) {
            if (path.startsWith("/")) {
                return path;
            }
            return (base.endsWith("/") ? base : base + "/") + path;
        }

        /**
         * One {@code @ConfigMapping(prefix = ...)} interface: a property under the prefix is known when
         * every segment after the prefix is one of the interface's method names in kebab case (or a
         * {@code @WithName}). Deliberately simple: nesting depth and map keys are not tracked.
         */
        record Mapping(String prefix, Set<String> segments) {

            static final Pattern CONFIG_MAPPING = Pattern.compile("@ConfigMapping\\s*\\(\\s*(?:prefix\\s*=\\s*)?\"([^\"]+)\"");
            static final Pattern METHOD = Pattern.compile("\\b([a-z]\\w*)\\s*\\(\\s*\\)\\s*[;{]");
            static final Pattern WITH_NAME = Pattern.compile("@WithName\\s*\\(\\s*(?:value\\s*=\\s*)?\"([^\"]+)\"");

            static List<Mapping> parse(String source) {
                Matcher prefix = CONFIG_MAPPING.matcher(source);
                List<String> prefixes = new ArrayList<>();
                while (prefix.find()) {
                    prefixes.add(prefix.group(1));
                }
                if (prefixes.isEmpty()) {
                    return List.of();
                }
                Set<String> segments = new LinkedHashSet<>();
                Matcher method = METHOD.matcher(source);
                while (method.find()) {
                    segments.add(kebab(method.group(1)));
                }
                Matcher withName = WITH_NAME.matcher(source);
                while (withName.find()) {
                    segments.addAll(Arrays.asList(withName.group(1).split("\\.")));
                }
                return prefixes.stream().map(p -> new Mapping(p, segments)).toList();
            }

            static String kebab(String camel) {
                return camel.replaceAll("([a-z0-9])([A-Z])", "$1-$2").replaceAll("([A-Z])([A-Z][a-z])", "$1-$2").toLowerCase(Locale.ROOT);
            }

            boolean acceptsEnv(String env) {
                String head = envName(prefix) + "_";
                return env.startsWith(head) && splits(env.substring(head.length()));
            }

            private boolean splits(String rest) {
                for (String segment : segments.stream().map(AppConfig::envName).collect(Collectors.toSet())) {
                    if (rest.equals(segment) || rest.startsWith(segment + "_") && splits(rest.substring(segment.length() + 1))) {
                        return true;
                    }
                }
                return false;
            }
        }
    }
}
