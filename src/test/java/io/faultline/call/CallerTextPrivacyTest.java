package io.faultline.call;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.agroal.api.AgroalDataSource;
import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

/**
 * Text a caller picks outside the messages (the request's end-user label, the model name LiteLLM refused) is
 * masked wherever Faultline keeps or shows it: every column of every table, and the failures API.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CallerTextPrivacyTest {

    @Inject
    AgroalDataSource dataSource;

    /** The {@code table.column}s of the public schema holding {@code needle}, as text. */
    private List<String> columnsHolding(String needle) throws SQLException {
        List<String> found = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            List<String[]> columns = new ArrayList<>();
            try (ResultSet rs = st.executeQuery("select c.table_name, c.column_name from information_schema.columns c"
                    + " join information_schema.tables t using (table_schema, table_name)"
                    + " where t.table_type = 'BASE TABLE' and c.table_schema = current_schema()")) {
                while (rs.next()) {
                    columns.add(new String[] {rs.getString(1), rs.getString(2)});
                }
            }
            for (String[] column : columns) {
                try (var ps = c.prepareStatement("select count(*) from \"" + column[0] + "\" where strpos(\""
                        + column[1] + "\"::text, ?) > 0")) {
                    ps.setString(1, needle);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        if (rs.getLong(1) > 0) {
                            found.add(column[0] + "." + column[1]);
                        }
                    }
                }
            }
        }
        return found;
    }

    @Test
    void an_end_user_label_litellm_refused_over_its_budget_is_masked_in_the_episode_and_its_evidence()
            throws Exception {
        // LiteLLM names the end user it refused: the request's `user`, a label the caller picks (often an e-mail).
        String email = "alice." + UUID.randomUUID().toString().substring(0, 8) + "@example.com";
        Payloads refused = Payloads.failure("litellm", "gpt-4o", "dep-" + UUID.randomUUID(), Instant.now(), 400,
                "BudgetExceededError", "ExceededBudget: End User over budget. Spend=2.0, Budget=1.0");
        ((ObjectNode) refused.node().get("error_information")).put("error_budget_entity_type", "end_user")
                .put("error_budget_entity_id", email);

        Api.ingest(Payloads.array(refused)).statusCode(200).body("accepted", equalTo(1))
                .body("failures", equalTo(1));

        assertThat(columnsHolding(email)).isEmpty();
        String failures = given().get("/api/v1/failures?type=budget_exceeded&limit=200").then().statusCode(200)
                .extract().asString();
        assertThat(failures).doesNotContain(email).contains("end_user:[email]");
    }
    @Test
    void a_model_name_litellm_refused_is_masked_in_the_call_the_episode_and_the_api() throws Exception {
        // A model LiteLLM refuses (a team not allowed it, a name it does not know) never reached a provider: its name
        // is whatever the caller wrote in the request.
        String email = "bob." + UUID.randomUUID().toString().substring(0, 8) + "@example.com";
        Payloads refused = Payloads.failure("litellm", "summarise for " + email, "unused", Instant.now(), 401,
                "AuthenticationError", "Team not allowed to access model. Tried to access the model you asked for");
        refused.node().remove("model_id");
        refused.node().remove("custom_llm_provider");
        refused.node().put("model_group", "group of " + email);
        ((ObjectNode) refused.node().get("hidden_params")).remove("model_id");
        ((ObjectNode) refused.node().get("error_information")).remove("llm_provider");

        Api.ingest(Payloads.array(refused)).statusCode(200).body("accepted", equalTo(1))
                .body("failures", equalTo(1));

        assertThat(columnsHolding(email)).isEmpty();
        String failures = given().get("/api/v1/failures?type=unauthorized_model_access&limit=200").then()
                .statusCode(200).extract().asString();
        assertThat(failures).doesNotContain(email).contains("summarise for [email]");
    }
    @Test
    void a_dated_model_name_litellm_refused_is_stored_as_asked_and_a_number_in_it_is_not() throws Exception {
        // A team not allowed a model asks for it by its dated name; masking the date as a phone number put
        // claude-opus-4-1-20250805 and claude-opus-4-20250514 under one name, claude-opus-[number].
        String dated = "claude-opus-4-1-20250805";
        String phone = "claude-opus-4-1 +1 (415) 555-2671";
        Payloads datedCall = refusedModel(dated);
        Payloads phoneCall = refusedModel(phone);

        Api.ingest(Payloads.array(datedCall, phoneCall)).statusCode(200).body("accepted", equalTo(2));

        assertThat(storedModel(datedCall.id())).containsExactly(dated, dated, "litellm:" + dated);
        assertThat(storedModel(phoneCall.id())).containsExactly("claude-opus-4-1 [number]",
                "claude-opus-4-1 [number]", "litellm:claude-opus-4-1 [number]");
    }

    /** A call LiteLLM refused before routing it: the model (and group) are the request's. */
    private static Payloads refusedModel(String model) {
        Payloads refused = Payloads.failure("litellm", model, "unused", Instant.now(), 401, "AuthenticationError",
                "Team not allowed to access model. Tried to access the model you asked for");
        refused.node().remove("model_id");
        refused.node().put("model_group", model);
        ((ObjectNode) refused.node().get("hidden_params")).remove("model_id");
        return refused;
    }

    /** The stored call's model, model group and deployment. */
    private List<String> storedModel(String callId) throws SQLException {
        try (Connection c = dataSource.getConnection(); var ps = c.prepareStatement(
                "select model, model_group, deployment from llm_calls where call_id = ?")) {
            ps.setString(1, callId);
            try (ResultSet rs = ps.executeQuery()) {
                assertThat(rs.next()).as("stored").isTrue();
                return List.of(rs.getString(1), rs.getString(2), rs.getString(3));
            }
        }
    }

    @Test
    void credentials_in_a_deployments_api_base_are_not_stored() throws Exception {
        // Gateways in front of a provider are often configured with a key in the URL: user info or a query parameter.
        String password = "pw" + UUID.randomUUID().toString().replace("-", "");
        String queryKey = "qk" + UUID.randomUUID().toString().replace("-", "");
        Payloads call = Payloads.success("openai", "gpt-4o", "dep-" + UUID.randomUUID(), Instant.now());
        call.node().put("api_base", "https://gateway:" + password + "@llm.example.com/v1?api-key=" + queryKey + "#x");

        Api.ingest(Payloads.array(call)).statusCode(200).body("accepted", equalTo(1));

        assertThat(columnsHolding(password)).isEmpty();
        assertThat(columnsHolding(queryKey)).isEmpty();
        try (Connection c = dataSource.getConnection(); var ps = c.prepareStatement(
                "select api_base from llm_calls where call_id = ?")) {
            ps.setString(1, call.id());
            try (ResultSet rs = ps.executeQuery()) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).isEqualTo("https://llm.example.com/v1");
            }
        }
    }
    @Test
    void retrieved_passages_logged_as_a_list_of_hits_are_not_stored() throws Exception {
        // Applications log their retrieval as the hits they got: index, score, and the passage the model was given.
        String passage = "Refunds" + UUID.randomUUID().toString().replace("-", "") + " take fourteen days";
        String query = "where" + UUID.randomUUID().toString().replace("-", "") + " is my refund";
        Payloads call = Payloads.success("openai", "gpt-4o", "dep-" + UUID.randomUUID(), Instant.now())
                .metadata(java.util.Map.of("retrieval", List.of(
                        java.util.Map.of("index", "kb-products", "top_score", 0.8, "text", passage),
                        java.util.Map.of("index", "kb-products", "query", query, "passages", List.of(passage)))));

        Api.ingest(Payloads.array(call)).statusCode(200).body("accepted", equalTo(1));

        assertThat(columnsHolding(passage.substring(0, 30))).isEmpty();
        assertThat(columnsHolding(query.substring(0, 30))).isEmpty();
        assertThat(columnsHolding("fourteen")).isEmpty();
    }
    @Test
    void identifiers_kept_as_sent_are_only_the_batch_and_job_ids_and_no_key_a_caller_names_is_stored_raw()
            throws Exception {
        // batch_id, job_id and a retrieval sample's index are kept unmasked for the features that join on them; the
        // exemption held at every depth, and the names of an object's fields were never masked.
        String nested = "nested." + UUID.randomUUID().toString().substring(0, 8) + "@example.com";
        String fieldName = "fieldname." + UUID.randomUUID().toString().substring(0, 8) + "@example.com";
        String jobId = "job." + UUID.randomUUID().toString().substring(0, 8) + "@example.com";
        Payloads call = Payloads.success("openai", "gpt-4o", "dep-" + UUID.randomUUID(), Instant.now())
                .metadata(java.util.Map.of("batch_id", java.util.Map.of("index", nested, fieldName, 1),
                        "job_id", java.util.Map.of("batch_id", jobId)));

        Api.ingest(Payloads.array(call)).statusCode(200).body("accepted", equalTo(1));

        assertThat(columnsHolding(nested)).isEmpty();
        assertThat(columnsHolding(fieldName)).isEmpty();
        assertThat(columnsHolding(jobId)).isEmpty();
    }
}
