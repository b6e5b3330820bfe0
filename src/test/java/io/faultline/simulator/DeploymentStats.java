package io.faultline.simulator;

import java.util.Map;

/** What a deployment has seen since the last reset: request count and outcome ({@code success} or fault kind) counts. */
public record DeploymentStats(long requests, Map<String, Long> outcomes) {

    public DeploymentStats {
        outcomes = Map.copyOf(outcomes);
    }

    public long outcome(String name) {
        return outcomes.getOrDefault(name, 0L);
    }
}
