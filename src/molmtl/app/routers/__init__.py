"""One APIRouter per area: health, methods, molecules (and QM9 picks), predict, jobs, compare, pages."""
