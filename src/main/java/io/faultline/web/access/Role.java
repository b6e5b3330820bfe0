package io.faultline.web.access;

/** The three credentials of the API; the admin key can do everything the other two can. */
public enum Role {
    /** Every GET under {@code /api/}, the OpenAPI document and Swagger UI: {@code FAULTLINE_READ_API_KEY}. */
    READ("read", "FAULTLINE_READ_API_KEY"),
    /** What the LiteLLM plugin and signal reporters send: {@code FAULTLINE_INGEST_API_KEY}. */
    INGEST("ingest", "FAULTLINE_INGEST_API_KEY"),
    /** Every other write, and everything the other two may do: {@code FAULTLINE_ADMIN_API_KEY}. */
    ADMIN("admin", "FAULTLINE_ADMIN_API_KEY");

    private final String label;
    private final String env;

    Role(String label, String env) {
        this.label = label;
        this.env = env;
    }

    public String label() {
        return label;
    }

    /** The environment variable that holds this role's keys. */
    public String env() {
        return env;
    }
}
