package io.faultline.fuzz;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Reads every column of every table as text and looks for raw secrets, column by column. */
final class DatabaseDump {

    private DatabaseDump() {
    }

    /** What the scan found: leaked secrets per {@code table.column}, and how many rows carry the canary. */
    record Scan(Map<String, Integer> leaks, Map<String, String> leakSamples, long rows, long values,
            long canaryRows) {
    }

    static Scan scan(String jdbcUrl, String user, String password, List<String> secrets, String canary)
            throws SQLException {
        Map<String, Integer> leaks = new LinkedHashMap<>();
        Map<String, String> samples = new LinkedHashMap<>();
        long rows = 0;
        long values = 0;
        long canaryRows = 0;
        try (Connection c = DriverManager.getConnection(jdbcUrl, user, password); Statement st = c.createStatement()) {
            Map<String, List<String>> columns = new LinkedHashMap<>();
            try (ResultSet rs = st.executeQuery("select quote_ident(c.table_schema) || '.' || quote_ident(c.table_name),"
                    + " quote_ident(c.column_name) from information_schema.columns c join information_schema.tables t"
                    + " on t.table_schema = c.table_schema and t.table_name = c.table_name"
                    + " where t.table_type = 'BASE TABLE' and c.table_schema not in ('pg_catalog', 'information_schema')"
                    + " order by 1, c.ordinal_position")) {
                while (rs.next()) {
                    columns.computeIfAbsent(rs.getString(1), k -> new ArrayList<>()).add(rs.getString(2));
                }
            }
            st.setFetchSize(500);
            c.setAutoCommit(false);
            for (Map.Entry<String, List<String>> table : columns.entrySet()) {
                List<String> cols = table.getValue();
                StringBuilder sql = new StringBuilder("select ");
                for (int i = 0; i < cols.size(); i++) {
                    sql.append(i == 0 ? "" : ", ").append(cols.get(i)).append("::text");
                }
                sql.append(" from ").append(table.getKey());
                try (ResultSet rs = st.executeQuery(sql.toString())) {
                    while (rs.next()) {
                        rows++;
                        boolean canarySeen = false;
                        for (int i = 0; i < cols.size(); i++) {
                            String value = rs.getString(i + 1);
                            if (value == null) {
                                continue;
                            }
                            values++;
                            canarySeen |= value.contains(canary);
                            for (String secret : secrets) {
                                if (value.contains(secret)) {
                                    String where = table.getKey() + "." + cols.get(i);
                                    leaks.merge(where, 1, Integer::sum);
                                    int at = value.indexOf(secret);
                                    samples.putIfAbsent(where, value.substring(Math.max(0, at - 60),
                                            Math.min(value.length(), at + secret.length() + 20)));
                                }
                            }
                        }
                        if (canarySeen) {
                            canaryRows++;
                        }
                    }
                }
            }
            c.commit();
        }
        return new Scan(leaks, samples, rows, values, canaryRows);
    }
}
