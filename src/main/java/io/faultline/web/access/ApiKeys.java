package io.faultline.web.access;

import io.quarkus.logging.Log;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The configured keys of each role. Each variable holds one key or two separated by a comma (the new one and the one
 * being retired), so that a key can be rotated without a moment in which callers are refused. Every value is trimmed
 * where it is read: a Secret written with a trailing newline works. {@code FAULTLINE_API_KEY} (the single key of
 * earlier versions) is one more admin key. Keys are compared by their SHA-256 digests in constant time, every
 * configured key every time, so neither a key's length nor which role matched shows in the timing.
 */
@Singleton
public class ApiKeys {

    private record Key(byte[] digest, Role role) {
    }

    /** The Secret template's placeholder: never a key, whoever forgot to replace it. */
    static final String PLACEHOLDER = "CHANGE_ME";
    /** Shorter keys are accepted with a warning: 16 random characters are the least worth calling a secret. */
    static final int MIN_STRONG_LENGTH = 16;

    private final List<Key> keys = new ArrayList<>();
    private final Map<Role, Integer> counts = new EnumMap<>(Role.class);

    public ApiKeys(@ConfigProperty(name = "faultline.api-key") Optional<String> legacy,
            @ConfigProperty(name = "faultline.auth.admin-keys") Optional<String> admin,
            @ConfigProperty(name = "faultline.auth.ingest-keys") Optional<String> ingest,
            @ConfigProperty(name = "faultline.auth.read-keys") Optional<String> read) {
        add(Role.ADMIN, legacy);
        add(Role.ADMIN, admin);
        add(Role.INGEST, ingest);
        add(Role.READ, read);
    }

    private void add(Role role, Optional<String> value) {
        if (value.isEmpty()) {
            return;
        }
        for (String part : value.get().split(",")) {
            String key = part.trim();
            if (key.equalsIgnoreCase(PLACEHOLDER)) {
                Log.warnf("A %s key is the placeholder %s of k8s/faultline-secret.template.yaml: ignored", role.env(),
                        PLACEHOLDER);
            } else if (!key.isEmpty()) {
                if (key.length() < MIN_STRONG_LENGTH) {
                    // Accepted (a test or a demo may want a short one), but said: the key is the only gate.
                    Log.warnf("A %s key is %d characters long: use at least %d random ones (openssl rand -hex 24)",
                            role.env(), key.length(), MIN_STRONG_LENGTH);
                }
                keys.add(new Key(digest(key), role));
                counts.merge(role, 1, Integer::sum);
            }
        }
    }

    /** The roles of a presented key (trimmed here too); empty when it is no configured key. */
    public Set<Role> rolesOf(String presented) {
        byte[] digest = digest(presented.trim());
        EnumSet<Role> roles = EnumSet.noneOf(Role.class);
        for (Key key : keys) {
            if (MessageDigest.isEqual(digest, key.digest())) {
                roles.add(key.role());
            }
        }
        return roles;
    }

    /** Whether any key of this role is configured. */
    public boolean configured(Role role) {
        return counts.containsKey(role);
    }

    /** Without a read key, reads stay open (the behaviour of earlier versions). */
    public boolean readsOpen() {
        return !configured(Role.READ);
    }

    void report(@Observes StartupEvent start) {
        if (readsOpen()) {
            Log.warn("FAULTLINE_READ_API_KEY is not set: every read (GET /api/..., /q/openapi, /q/swagger-ui) is open"
                    + " to anyone who can reach this server");
        }
        if (!configured(Role.ADMIN)) {
            Log.warn("Neither FAULTLINE_ADMIN_API_KEY nor FAULTLINE_API_KEY is set: admin writes (budgets, batches,"
                    + " baseline runs, resets, SLOs, traffic-policy overrides) will be refused with 401");
        }
        if (!configured(Role.INGEST) && !configured(Role.ADMIN)) {
            Log.warn("No FAULTLINE_INGEST_API_KEY (nor an admin key) is set: ingest (calls, classify, signals) will"
                    + " be refused with 401");
        }
        Log.infof("API keys: %d admin, %d ingest, %d read", counts.getOrDefault(Role.ADMIN, 0),
                counts.getOrDefault(Role.INGEST, 0), counts.getOrDefault(Role.READ, 0));
    }

    private static byte[] digest(String key) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every Java runtime", e);
        }
    }
}
