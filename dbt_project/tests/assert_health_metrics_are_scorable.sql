{{ config(tags=['touch_model_config']) }}
-- Every health measure needs a positive weight and distinct good and bad values.
select *
from {{ ref('health_metrics') }}
where weight <= 0 or good_value = bad_value or good_value is null or bad_value is null
