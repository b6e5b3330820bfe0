package io.faultline.taxonomy;

/** P1 is the most urgent (users broadly affected now), P4 the least (noted, no action needed). */
public enum Severity {
    P1, P2, P3, P4;

    /** The more urgent of the two. */
    public Severity max(Severity other) {
        return other != null && other.ordinal() < ordinal() ? other : this;
    }
}
