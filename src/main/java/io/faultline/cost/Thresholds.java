package io.faultline.cost;

import io.faultline.taxonomy.Severity;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

/** Fractions (or ratios) mapped to the severity of the failure raised when spend passes them. */
public final class Thresholds {

    private final NavigableMap<Double, Severity> severities;

    private Thresholds(NavigableMap<Double, Severity> severities) {
        this.severities = severities;
    }

    /** Parses {@code ["0.8:P3", "1.0:P2"]}; {@code property} names the configuration key in the error. */
    public static Thresholds parse(String property, List<String> entries) {
        NavigableMap<Double, Severity> map = new TreeMap<>();
        for (String entry : entries) {
            String[] parts = entry.trim().split(":");
            try {
                double fraction = Double.parseDouble(parts[0].trim());
                if (parts.length != 2 || !(fraction > 0) || Double.isInfinite(fraction)) {
                    throw new IllegalArgumentException();
                }
                map.put(fraction, Severity.valueOf(parts[1].trim().toUpperCase(Locale.ROOT)));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(property + ": '" + entry
                        + "' is not fraction:severity such as 0.8:P3");
            }
        }
        if (map.isEmpty()) {
            throw new IllegalArgumentException(property + " needs at least one fraction:severity");
        }
        return new Thresholds(map);
    }

    public static Thresholds of(Map<Double, Severity> map) {
        return new Thresholds(new TreeMap<>(map));
    }

    public List<Double> fractions() {
        return List.copyOf(severities.keySet());
    }

    /** The severity of the largest configured fraction at or below {@code fraction}; P4 below all of them. */
    public Severity severity(double fraction) {
        Map.Entry<Double, Severity> floor = severities.floorEntry(fraction + 1e-12);
        return floor == null ? Severity.P4 : floor.getValue();
    }
}
