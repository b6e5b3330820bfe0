package io.faultline.common;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.Min;

/** Bounds on what Faultline's own metrics can grow to. */
@ConfigMapping(prefix = "faultline.metrics")
public interface MetricsConfig {

    /**
     * Distinct values per caller-controlled label ({@code provider}, {@code model}, {@code model_group},
     * {@code deployment}, {@code error_type}); the values first seen on calls keep their own series, later ones are
     * reported as {@code other} (values read back from the database take no slot of their own). Each value multiplies
     * the series of every meter carrying the label, so this bounds the scrape and the registry's memory however many
     * names callers invent.
     */
    @WithDefault("200")
    @Min(1)
    int maxLabelValues();
}
