package io.faultline.taxonomy;

import java.util.Map;

/** A subtype of one category; {@link #code()} is the stable JSON and database name. */
public sealed interface FailureType permits ProviderFailure.Type, QualityFailure.Type, CostFailure.Type,
        SecurityFailure.Type, DataFailure.Type {

    String code();

    Category category();

    /** Finds a type by its JSON name; names are unique across categories. */
    static FailureType byCode(String code) {
        FailureType type = Registry.BY_CODE.get(code);
        if (type == null) {
            throw new IllegalArgumentException("unknown failure type '" + code + "'");
        }
        return type;
    }

    /** Every type, category by category (PROVIDER, QUALITY, COST, SECURITY, DATA), in declaration order. */
    static java.util.Collection<FailureType> all() {
        return java.util.Collections.unmodifiableCollection(Registry.BY_CODE.values());
    }

    /** Holds the lookup table; an interface cannot have private static fields. */
    final class Registry {
        private static final Map<String, FailureType> BY_CODE = new java.util.LinkedHashMap<>();

        static {
            for (FailureType[] values : new FailureType[][] { ProviderFailure.Type.values(), QualityFailure.Type.values(),
                    CostFailure.Type.values(), SecurityFailure.Type.values(), DataFailure.Type.values() }) {
                for (FailureType type : values) {
                    if (BY_CODE.put(type.code(), type) != null) {
                        throw new IllegalStateException("duplicate failure type code " + type.code());
                    }
                }
            }
        }

        private Registry() {
        }
    }
}
