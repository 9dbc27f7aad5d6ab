"""The admin index tells the app's users apart from Django's staff logins."""


def test_the_admin_index_lists_app_users_apart_from_staff_users(admin_client):
    response = admin_client.get("/admin/")

    models = {
        (app["app_label"], model["object_name"]): model["name"]
        for app in response.context["app_list"]
        for model in app["models"]
    }
    assert models[("users", "User")] == "App users"
    assert models[("auth", "User")] == "Users"
    assert "App users" in response.text
