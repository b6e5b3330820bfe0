package io.faultline.cost;

import io.faultline.call.LlmCall;

import java.util.Locale;
import java.util.function.Function;

/**
 * What a budget is attached to, and the {@code llm_calls} column its spend is summed over. {@code key} is LiteLLM's
 * {@code user_api_key_hash}; {@code model} is the model group the client asked for (the model when there is none).
 */
public enum BudgetScope {
    TEAM("team_id", LlmCall::teamId),
    KEY("api_key_hash", LlmCall::apiKeyHash),
    USER("user_ref", LlmCall::userRef),
    MODEL("coalesce(model_group, model)", c -> c.modelGroup() != null ? c.modelGroup() : c.model());

    /** SQL expression over llm_calls; a constant, never user input. */
    final String column;
    private final Function<LlmCall, String> key;

    BudgetScope(String column, Function<LlmCall, String> key) {
        this.column = column;
        this.key = key;
    }

    public String code() {
        return name().toLowerCase(Locale.ROOT);
    }

    public String keyOf(LlmCall call) {
        return key.apply(call);
    }

    public static BudgetScope parse(String code) {
        if (code == null) {
            return null;
        }
        for (BudgetScope scope : values()) {
            if (scope.code().equals(code.trim().toLowerCase(Locale.ROOT))) {
                return scope;
            }
        }
        return null;
    }
}
