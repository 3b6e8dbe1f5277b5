{{ config(tags=['touch_model_config']) }}
-- The health component weights must sum to 100 (docs/touch-model.md, health).
select sum(weight) as total_weight
from {{ ref('health_components') }}
having sum(weight) <> 100
