"""functions, credentials, execution results

Revision ID: 0001
Revises:
Create Date: 2026-11-22 02:40:15.212534
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credentials",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=100), nullable=False),
        sa.Column("integration_type", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("field_names", JSON, nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "integration_type", "name", name="uq_credentials_name"),
    )
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_credentials_key_id"), ["key_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_credentials_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "execution_results",
        sa.Column("idempotency_key", sa.String(length=300), nullable=False),
        sa.Column("function_slug", sa.String(length=200), nullable=False),
        sa.Column("execution_id", sa.String(length=200), nullable=False),
        sa.Column("node_id", sa.String(length=200), nullable=False),
        sa.Column("response", JSON, nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("idempotency_key", "function_slug"),
    )
    with op.batch_alter_table("execution_results", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_execution_results_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "functions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("plugin_id", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=50), server_default="1.0.0", nullable=False),
        sa.Column("execution_type", sa.String(length=16), server_default="builtin", nullable=False),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("image_ref", sa.Text(), nullable=True),
        sa.Column("command", sa.Text(), nullable=True),
        sa.Column("working_dir", sa.Text(), nullable=True),
        sa.Column("container_env", JSON, nullable=True),
        sa.Column("resources", JSON, nullable=True),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("webhook_method", sa.String(length=10), server_default="POST", nullable=False),
        sa.Column("webhook_headers", JSON, nullable=True),
        sa.Column("webhook_timeout_seconds", sa.Integer(), server_default="30", nullable=False),
        sa.Column("input_schema", JSON, nullable=True),
        sa.Column("output_schema", JSON, nullable=True),
        sa.Column("timeout_seconds", sa.Integer(), server_default="300", nullable=False),
        sa.Column("retry_policy", JSON, nullable=True),
        sa.Column("max_concurrency", sa.Integer(), server_default="0", nullable=False),
        sa.Column("integration_type", sa.String(length=100), nullable=True),
        sa.Column("is_builtin", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.Column("is_enabled", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column("is_deprecated", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    with op.batch_alter_table("functions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_functions_category"), ["category"], unique=False)
        batch_op.create_index(batch_op.f("ix_functions_plugin_id"), ["plugin_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("functions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_functions_plugin_id"))
        batch_op.drop_index(batch_op.f("ix_functions_category"))

    op.drop_table("functions")
    with op.batch_alter_table("execution_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_execution_results_created_at"))

    op.drop_table("execution_results")
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credentials_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_credentials_key_id"))

    op.drop_table("credentials")
