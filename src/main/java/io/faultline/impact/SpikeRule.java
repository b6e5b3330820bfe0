package io.faultline.impact;

import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Which flagged attempts are priced as token-spike calls, and against which p99 (README: "Impact", cost): an answer
 * a token-spike episode of the subject flagged (and no non-cost one: that answer is wasted whole) on a deployment with
 * a p99 here costs {@code cost × max(0, 1 − p99 / tokens)} extra.
 * For a {@code token_spike} episode raised per call the one p99 of its evidence applies to every flagged attempt
 * ({@link #ANY}); for a cluster, each per-call token-spike member's p99 applies to the flagged attempts on that member's
 * deployment (the larger p99 when two members share one), so a spike member on one deployment does not price the calls
 * of an outage member on another. Empty: nothing is priced as a spike.
 */
record SpikeRule(SortedMap<String, Double> p99ByDeployment) {

    /** The key under which one p99 applies to every deployment. */
    static final String ANY = "*";

    static final SpikeRule NONE = new SpikeRule(new TreeMap<>());

    /**
     * The p99 of a token spike priced by its windows ({@code p99_window_tokens}): no answer exceeds it, so its flagged
     * answers (linked when it was also raised per call) add no extra of their own and, like any priced spike answer,
     * are not wasted either: the windows' price holds them.
     */
    static final double WINDOWS = Double.POSITIVE_INFINITY;

    SpikeRule {
        p99ByDeployment = new TreeMap<>(p99ByDeployment);
    }

    static SpikeRule every(double p99) {
        return p99 > 0 ? new SpikeRule(new TreeMap<>(Map.of(ANY, p99))) : NONE;
    }

    /** The p99 that prices a flagged attempt on the deployment; 0 when none does. */
    double p99(String deployment) {
        Double any = p99ByDeployment.get(ANY);
        if (any != null) {
            return any;
        }
        Double own = deployment == null ? null : p99ByDeployment.get(deployment);
        return own == null ? 0 : own;
    }

    boolean isEmpty() {
        return p99ByDeployment.isEmpty();
    }

    String[] deployments() {
        return p99ByDeployment.keySet().toArray(String[]::new);
    }

    Double[] p99s() {
        return p99ByDeployment.values().toArray(Double[]::new);
    }

    /**
     * The stored form (impact_state.spike_rule): a change of it folds the subject anew. The version in front marks
     * the rules a request was derived by, so that the requests folded before a change of them are derived again once:
     * "v2" a priced spike answer no longer wasted cost as well, "v3" an answer only a cost episode flagged (a budget's
     * or a batch's crossing) no longer wasted (every subject, with a spike rule or without), "v4" only the answers a
     * token-spike member flagged priced as spikes (a quality member's answer on its deployment is wasted).
     */
    String encode() {
        return VERSION + p99ByDeployment.entrySet().stream()
                .map(e -> e.getKey().length() + ":" + e.getKey() + "=" + e.getValue()).collect(Collectors.joining(";"));
    }

    /** The derivation rules' version {@link #encode()} starts with. */
    static final String VERSION = "v4;";
}
