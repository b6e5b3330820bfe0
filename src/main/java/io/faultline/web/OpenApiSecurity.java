package io.faultline.web;

import io.faultline.web.access.AccessRules;
import io.faultline.web.access.Role;
import io.quarkus.smallrye.openapi.OpenApiFilter;
import org.eclipse.microprofile.openapi.OASFactory;
import org.eclipse.microprofile.openapi.OASFilter;
import org.eclipse.microprofile.openapi.models.OpenAPI;
import org.eclipse.microprofile.openapi.models.Operation;
import org.eclipse.microprofile.openapi.models.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.models.security.SecurityScheme;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.StringJoiner;

/**
 * Declares the API key in the OpenAPI document, so that Swagger UI offers "Authorize" and sends it, and a generated
 * client knows to: each operation under /api/ requires the bearer key of the roles the role table
 * ({@link AccessRules}) gives it, a read also nothing (open while no read key is set), and its description names
 * the roles and their environment variables.
 */
@OpenApiFilter(stages = OpenApiFilter.RunStage.BUILD)
public class OpenApiSecurity implements OASFilter {

    static final String SCHEME = "apiKey";

    @Override
    public void filterOpenAPI(OpenAPI openAPI) {
        if (openAPI.getComponents() == null) {
            openAPI.setComponents(OASFactory.createComponents());
        }
        openAPI.getComponents().addSecurityScheme(SCHEME, OASFactory.createSecurityScheme()
                .type(SecurityScheme.Type.HTTP).scheme("bearer")
                .description("A Faultline API key, sent as 'Authorization: Bearer <key>': the admin, ingest or read"
                        + " key, as each operation says (README, \"Access control\")."));
        if (openAPI.getPaths() == null || openAPI.getPaths().getPathItems() == null) {
            return;
        }
        openAPI.getPaths().getPathItems().forEach((path, item) -> {
            if (path.startsWith("/api/") && item.getOperations() != null) {
                item.getOperations().forEach((method, operation) -> secure(method.name(), path, operation));
            }
        });
    }

    private static void secure(String method, String path, Operation operation) {
        Set<Role> allowed = AccessRules.allowedForOperation(method, path);
        if (allowed.isEmpty()) {
            return;
        }
        boolean read = AccessRules.isRead(allowed);
        List<SecurityRequirement> security = new ArrayList<>();
        security.add(OASFactory.createSecurityRequirement().addScheme(SCHEME));
        if (read) {
            security.add(OASFactory.createSecurityRequirement());
        }
        operation.setSecurity(security);
        StringJoiner roles = new StringJoiner(" or ", "API key: ", read ? "; none while no read key is set." : ".");
        for (Role role : EnumSet.copyOf(allowed)) {
            roles.add(role.label() + " (" + role.env() + ")");
        }
        String description = operation.getDescription();
        operation.setDescription(description == null || description.isBlank() ? roles.toString()
                : description + "\n\n" + roles);
    }
}
