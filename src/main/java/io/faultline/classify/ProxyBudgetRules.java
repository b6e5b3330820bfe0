package io.faultline.classify;

import io.faultline.call.LlmCall;
import io.faultline.taxonomy.CostFailure.Type;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.Severity;
import jakarta.enterprise.context.ApplicationScoped;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * COST {@code budget_exceeded} enforced by LiteLLM: the proxy refused a call because a key, team, user or other budget
 * it keeps had run out. It is a budget failure, not an access one: the caller is allowed, the money is not. LiteLLM
 * 1.108 logs it as a {@code BudgetExceededError} (status 422, or 429 with {@code budget_exceeded_status_code}) with
 * {@code error_budget_entity_type}/{@code _id}; a tag budget checked after the guardrails arrives as a
 * {@code ProxyException} whose message says "exceeded … budget". One episode per refused budget: provider
 * {@code litellm}, deployment {@code entity_type:entity_id} ({@code litellm-proxy} when LiteLLM did not name it),
 * apart from Faultline's own threshold alerts (provider {@code budget}), which the correlation engine links to it.
 */
@ApplicationScoped
public class ProxyBudgetRules implements CallRule {

    static final String BUDGET_ERROR = "BudgetExceededError";
    /** LiteLLM's class of a refusal it raised itself, a tag budget's among them. */
    static final String PROXY_EXCEPTION = "ProxyException";

    /**
     * {@link #isBudgetRefusal(String, String)} over {@code llm_calls}' columns ({@code error_class, error_message}),
     * linear: a line of the message with "exceeded" and, after its first "exceeded", "budget".
     */
    public static final String REFUSAL_SQL = "(coalesce(error_class, '') = '" + BUDGET_ERROR + "'"
            + " or case when error_class = '" + PROXY_EXCEPTION + "' then exists (select 1 from"
            + " regexp_split_to_table(lower(coalesce(error_message, '')), chr(10)) line"
            + " where strpos(line, 'exceeded') > 0"
            + " and strpos(substr(line, strpos(line, 'exceeded') + 8), 'budget') > 0) else false end)";

    private final SeverityPolicy severities;

    public ProxyBudgetRules(SeverityPolicy severities) {
        this.severities = severities;
    }

    @Override
    public List<Failure> apply(LlmCall call) {
        if (!isBudgetRefusal(call)) {
            return List.of();
        }
        String entity = call.budgetEntity();
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("refused_by", AccessRules.PROXY);
        evidence.put("enforced_by", AccessRules.PROXY);
        if (entity != null) {
            int colon = entity.indexOf(':');
            evidence.put("entity_type", entity.substring(0, colon));
            evidence.put("entity_id", entity.substring(colon + 1));
        }
        evidence.put("routed_to", call.deployment());
        // Every call of the scope is refused until the budget resets or is raised: an outage for that scope.
        Severity severity = severities.base(Type.BUDGET_EXCEEDED).max(Severity.P2);
        return List.of(CallFailures.of(Type.BUDGET_EXCEEDED, call, AccessRules.PROXY,
                entity != null ? entity : AccessRules.PROXY_DEPLOYMENT, "proxy.budget", severity, evidence));
    }

    /** LiteLLM refused the call over a budget of its own (never a provider's quota: that is a rate limit). */
    static boolean isBudgetRefusal(LlmCall call) {
        if (call.success()) {
            return false;
        }
        return call.budgetEntity() != null || isBudgetRefusal(call.errorClass(), call.errorMessage());
    }

    /**
     * The part of {@link #isBudgetRefusal(LlmCall)} the stored columns hold (LiteLLM names the budget only on its
     * {@code BudgetExceededError}), which the predictor counts by ({@link #REFUSAL_SQL}).
     */
    static boolean isBudgetRefusal(String errorClass, String errorMessage) {
        return BUDGET_ERROR.equals(errorClass) || PROXY_EXCEPTION.equals(errorClass)
                && exceededBeforeBudget(errorMessage);
    }

    /** LiteLLM's own test for a budget message ("exceeded" then "budget" on one line), in linear time. */
    static boolean exceededBeforeBudget(String message) {
        if (message == null) {
            return false;
        }
        String text = message.toLowerCase(Locale.ROOT);
        // Each search resumes past the previous one, and the next "budget" is only looked up again once the scan has
        // passed it: every character is read a bounded number of times.
        int budget = -1;
        for (int exceeded = text.indexOf("exceeded"); exceeded >= 0;) {
            int after = exceeded + "exceeded".length();
            if (budget < after) {
                budget = text.indexOf("budget", after);
                if (budget < 0) {
                    return false;
                }
            }
            int end = text.indexOf('\n', exceeded);
            if (end < 0 || budget < end) {
                return true;
            }
            exceeded = text.indexOf("exceeded", end + 1);
        }
        return false;
    }
}
