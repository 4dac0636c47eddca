-- The median of a sorted double precision[] (null when empty), exactly as percentile_cont(0.5) computes it from the
-- same values: the middle element, or the two middle ones interpolated (lower + (upper - lower) * 0.5).
{% macro median_of_sorted(array) -%}
    case when cardinality({{ array }}) > 0 then
        {{ array }}[(cardinality({{ array }}) - 1) / 2 + 1]
        + ({{ array }}[cardinality({{ array }}) / 2 + 1] - {{ array }}[(cardinality({{ array }}) - 1) / 2 + 1]) * 0.5
    end
{%- endmacro %}
