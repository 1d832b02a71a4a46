from rest_framework.permissions import BasePermission


def operator_with(perm: str) -> type[BasePermission]:
    """An operator (staff) holding the Django permission ``perm``, through its groups or directly."""

    class OperatorWith(BasePermission):
        message = f"operators only: requires the '{perm}' permission"

        def has_permission(self, request, view) -> bool:
            user = request.user
            return bool(user and user.is_authenticated and user.is_staff and user.has_perm(perm))

    OperatorWith.__name__ = f"OperatorWith_{perm.replace('.', '_')}"
    return OperatorWith
